"""e2e fixtures: the local stack (see tests/support/local_system.py)."""

from tests.support.cold_start_report import pytest_terminal_summary
from tests.support.local_system import local_system, moto_server

__all__ = ["local_system", "moto_server", "pytest_terminal_summary"]
