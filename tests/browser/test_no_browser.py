"""Without Chromium the browser tests fail, saying how to install it; they never skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import browser


def test_a_machine_without_chromium_fails_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception) as failure:
        browser.chromium_path()
    assert "apt-get install chromium" in str(failure.value)


def test_the_system_chromium_is_found_where_debian_installs_it(monkeypatch, tmp_path):
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setattr(browser, "CHROMIUM", fake)
    assert browser.chromium_path() == Path(fake)
