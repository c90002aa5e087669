"""`sam build` of template.yaml without Docker: the python3.13 it needs, and an x86_64 copy of
the template whose build can run on this machine."""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from syncdrop_local.runtime.local_runtime import REPO_ROOT

SAM = REPO_ROOT / ".venv-sam" / "bin" / "sam"
# What the Lambda runtime provides to a function (requirements-lambda-runtime.txt).
LAMBDA_PYTHON = REPO_ROOT / ".venv-lambda313" / "bin" / "python"

_ARCHITECTURES = re.compile(r"^(\s*(?:Compatible)?Architectures:\s*)\[arm64\]\s*$", re.M)
_BUILD_ARCHITECTURE = re.compile(r"^(\s*BuildArchitecture:\s*)arm64\s*$", re.M)
_LOCAL_CODE = re.compile(r"^(\s*(?:CodeUri|ContentUri):\s*)([\w./-]+)\s*$", re.M)


def python313() -> str:
    found = subprocess.run(
        [str(REPO_ROOT / "tools" / "find-python313")], capture_output=True, text=True, check=False
    )
    if found.returncode != 0:
        pytest.fail(found.stderr.strip())  # a missing toolchain is a failure, never a skip
    return found.stdout.strip()


def lambda_python() -> Path:
    if not LAMBDA_PYTHON.exists():
        pytest.fail(
            f"{LAMBDA_PYTHON} is missing: run `make lambda-runtime` (make test does); "
            "it needs a python3.13"
        )
    return LAMBDA_PYTHON


def x86_64_template(text: str, root: Path = REPO_ROOT) -> str:
    """template.yaml for x86_64 (arm64 wheels cannot load here), its code paths absolute so
    the copy builds from any directory."""
    text, architectures = _ARCHITECTURES.subn(r"\1[x86_64]", text)
    text, build_architectures = _BUILD_ARCHITECTURE.subn(r"\1x86_64", text)
    text, code = _LOCAL_CODE.subn(lambda m: f"{m[1]}{(root / m[2]).resolve()}/", text)
    if not architectures or not code or "arm64" in text:
        raise ValueError(
            "template.yaml's Architectures/CodeUri lines are not where the x86_64 copy expects "
            f"them ({architectures} architectures, {build_architectures} build architectures, "
            f"{code} code paths rewritten)"
        )
    return text


def sam_build(template: Path, out: Path) -> None:
    """`sam build` of ``template`` into ``out`` with python3.13 on PATH, as `make build`."""
    if not SAM.exists():
        pytest.fail(f"{SAM} is missing: run `make venv` (make test does)")
    env = {**os.environ, "PATH": f"{Path(python313()).parent}:{os.environ['PATH']}"}
    env.pop("AWS_ENDPOINT_URL", None)
    result = subprocess.run(
        [str(SAM), "build", "--template", str(template), "--build-dir", str(out)],
        cwd=template.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def build_x86_64(work: Path) -> Path:
    """An x86_64 build of template.yaml under ``work``; the build directory."""
    template = work / "template.yaml"
    template.write_text(x86_64_template((REPO_ROOT / "template.yaml").read_text()))
    out = work / "build"
    sam_build(template, out)
    return out


def x86_64_build_for_session(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One x86_64 build per pytest run: pytest-xdist's workers share their run's directory and
    the first to get there builds while the others wait for it."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build_x86_64(tmp_path_factory.mktemp("sam-build-x86_64"))
    shared = tmp_path_factory.getbasetemp().parent / "sam-build-x86_64"
    with open(f"{shared}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = shared / "build"
        if not (built / "template.yaml").is_file():
            shutil.rmtree(shared, ignore_errors=True)  # a worker that failed half-way
            shared.mkdir()
            build_x86_64(shared)
        return built
