"""`sam build` for the python3.13 arm64 runtime, without Docker, and what it produces."""

from __future__ import annotations

from pathlib import Path

import pytest

from syncdrop_local.runtime.local_runtime import REPO_ROOT
from tests.support.sam_build import sam_build

# Lambda's limit for a function and its layers, unzipped.
UNZIPPED_LIMIT = 250 * 1024 * 1024


def size_of(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sam-build")
    sam_build(REPO_ROOT / "template.yaml", out)
    return out


def test_layer_holds_syncdrop_and_arm64_dependencies(build_dir):
    layer = build_dir / "CommonLayer" / "python"
    assert (layer / "syncdrop" / "domain" / "intake.py").is_file()
    assert (layer / "aws_lambda_powertools").is_dir()
    (core,) = (layer / "pydantic_core").glob("_pydantic_core.*.so")
    assert "cpython-313-aarch64" in core.name
    assert not (layer / "syncdrop_local").exists()  # local tooling is never deployed
    assert not (layer / "boto3").exists()  # the runtime provides it


def test_functions_are_thin_and_everything_fits_lambda(build_dir):
    layer_size = size_of(build_dir / "CommonLayer")
    for function in build_dir.iterdir():
        if function.name.endswith("Function"):
            code = size_of(function)
            assert (function / "app.py").is_file()
            assert code < 100 * 1024, f"{function.name} is {code} bytes"
            assert code + layer_size < UNZIPPED_LIMIT
