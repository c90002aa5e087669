"""What the local runtime asks of moto beyond AWS's API: a principal that plays a service, IAM
enforced, email subscriptions delivered to an inbox queue, and messages arriving on queues.

moto keeps that state where it runs. ``InProcessControls`` is for moto in this process (its
server on a thread, or ``mock_aws``); ``moto_process.RemoteControls`` asks a moto server that
runs in a process of its own.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from syncdrop_local.runtime.sqs_arrivals import Arrivals


class QueueArrivals(Protocol):
    """Messages added to moto's queues, by queue name (sqs_arrivals.Arrivals)."""

    def seen(self, queue_name: str) -> int: ...

    def wait(
        self, queue_name: str, since: int, timeout: float, stopping: threading.Event
    ) -> bool: ...

    def arrived(self, queue_name: str) -> None: ...

    def interrupt(self) -> None: ...


class MotoControls(Protocol):
    @property
    def arrivals(self) -> QueueArrivals: ...

    def act_as_service(self, principal_arn: str, service: str) -> None:
        """Let ``principal_arn`` assume roles whose trust policy names ``service``."""
        ...

    def enable_iam(self, server_url: str) -> None:
        """Decide every later request to ``server_url`` by the caller's IAM."""
        ...

    def disable_iam(self, server_url: str) -> None: ...

    def deliver_email_to(self, topic_arn: str, inbox_queue_arn: str) -> None:
        """Every email subscription of ``topic_arn`` delivers into that queue from now on."""
        ...


class InProcessControls:
    """moto in this process: its patches installed here, its state changed directly."""

    def __init__(self) -> None:
        from syncdrop_local.runtime import moto_fidelity, moto_speedups
        from syncdrop_local.runtime.sqs_arrivals import watch_moto_queues

        moto_fidelity.install()
        moto_speedups.install()
        self._arrivals = watch_moto_queues()

    @property
    def arrivals(self) -> Arrivals:
        return self._arrivals

    def act_as_service(self, principal_arn: str, service: str) -> None:
        from syncdrop_local.runtime import moto_iam

        moto_iam.act_as_service(principal_arn, service)

    def enable_iam(self, server_url: str) -> None:
        from syncdrop_local.runtime import moto_iam

        moto_iam.enable(server_url)

    def disable_iam(self, server_url: str) -> None:
        from syncdrop_local.runtime import moto_iam

        moto_iam.disable(server_url)

    def deliver_email_to(self, topic_arn: str, inbox_queue_arn: str) -> None:
        from syncdrop_local.runtime import moto_email_inbox

        moto_email_inbox.deliver_to(topic_arn, inbox_queue_arn)
