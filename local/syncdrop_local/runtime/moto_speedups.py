"""moto's server, faster at what it repeats for every request, answering exactly as before.

Each request made moto list its own package directory (about 150 ``isdir`` calls) to ask whether
a host names a service; the directory does not change while it runs.
"""

from __future__ import annotations

import threading

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Idempotent; patches moto in this process."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto import backends

        modules = frozenset(backends.list_of_moto_modules())

        def list_of_moto_modules() -> frozenset[str]:
            return modules  # only ever asked ``host in ...``

        backends.list_of_moto_modules = list_of_moto_modules
        _installed = True
