"""One cold start in a fresh process: a handler's import and runtime(), or boto3 and clients."""

import time

STARTED = time.perf_counter()  # before anything else is imported

import importlib.util  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402


def handler(path: str) -> list[str]:
    """Import the handler module as Lambda does and run its cold-start initialisation; return
    the boto3 clients it created, in order."""
    import boto3.session

    created: list[str] = []
    build = boto3.session.Session.client

    def recorded(self: boto3.session.Session, service_name: str, *args: object, **kw: object):
        created.append(service_name)
        return build(self, service_name, *args, **kw)

    boto3.session.Session.client = recorded
    spec = importlib.util.spec_from_file_location("handler_app", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["handler_app"] = module
    spec.loader.exec_module(module)
    services = module.runtime()[1]
    global DEFERRED
    started = time.perf_counter()
    if type(services.sync).__name__ == "_BuiltOnFirstUse":
        services.sync.get_batch  # noqa: B018 - the first use builds the httpx client
    DEFERRED = time.perf_counter() - started
    return created


def baseline(services: list[str]) -> list[str]:
    """Import boto3 and create the same clients the plainest way."""
    import boto3

    for service in services:
        boto3.client(service)
    return services


DEFERRED = 0.0  # what the handler left for its first call to Sync (httpx, TLS)

if __name__ == "__main__":
    kind, argument = sys.argv[1], sys.argv[2]
    clients = handler(argument) if kind == "handler" else baseline(argument.split(","))
    seconds = time.perf_counter() - STARTED - DEFERRED
    print(json.dumps({"seconds": seconds, "deferred": DEFERRED, "clients": clients}))
