"""e2e fixtures: the local stack (see tests/support/local_system.py)."""

from tests.support.local_system import local_system, moto_server

__all__ = ["local_system", "moto_server"]
