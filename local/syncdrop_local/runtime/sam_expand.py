"""template.yaml as CloudFormation: what `sam package` and the SAM transform would deploy."""

from __future__ import annotations

import copy
import functools
import threading
from pathlib import Path
from typing import Any

import boto3
from samtranslator.model.exceptions import InvalidDocumentException  # type: ignore[import-untyped]
from samtranslator.parser.parser import Parser  # type: ignore[import-untyped]
from samtranslator.translator.translator import Translator  # type: ignore[import-untyped]
from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

from syncdrop_local.runtime.template import REGION, TemplateError

# Where `sam package` would have uploaded the code; nothing is uploaded, the name only has to
# satisfy the translator, which refuses local paths.
CODE_BUCKET = "syncdrop-local-code"
# Metadata key on each AWS::Lambda::Function / AWS::Lambda::LayerVersion: its local directory,
# relative to the template's.
CODE_DIR = "SyncdropLocalCodeDir"
_translating = threading.Lock()
_LOCAL_CODE = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


def expand(root: Path, parameters: dict[str, str], region: str = REGION) -> dict[str, Any]:
    """``root/template.yaml`` translated to CloudFormation (a fresh copy: callers may change it).

    Cached by the template's mtime and the parameters: stacks are deployed once per test.
    """
    path = root / "template.yaml"
    key = tuple(sorted(parameters.items()))
    return copy.deepcopy(_translated(path, path.stat().st_mtime_ns, key, region))


def code_dir(root: Path, resource: dict[str, Any]) -> Path | None:
    """The local directory of a translated function's code or layer's content, if local."""
    relative = resource.get("Metadata", {}).get(CODE_DIR)
    return root / relative if relative is not None else None


@functools.lru_cache(maxsize=8)
def _translated(
    path: Path, _mtime: int, parameters: tuple[tuple[str, str], ...], region: str
) -> dict[str, Any]:
    sam = yaml_parse(path.read_text())
    packaged = _package(sam)
    try:
        # The translator keeps its region in class attributes: one translation at a time. A
        # session names the region, so the process's AWS_DEFAULT_REGION is left alone.
        with _translating:
            translated: dict[str, Any] = Translator(
                managed_policy_map=None,  # AWS managed policy ARNs from the package's own map
                sam_parser=Parser(),
                boto_session=boto3.session.Session(region_name=region),
            ).translate(
                sam_template=sam, parameter_values=dict(parameters), passthrough_metadata=True
            )
    except InvalidDocumentException as exc:
        causes = "; ".join(cause.message for cause in exc.causes)
        raise TemplateError(f"{path} does not translate: {causes}") from exc
    for resource in translated.get("Resources", {}).values():
        location = resource.get("Properties", {})
        location = location.get("Code") or location.get("Content")
        if isinstance(location, dict) and location.get("S3Bucket") == CODE_BUCKET:
            relative = packaged[str(location["S3Key"])]
            resource.setdefault("Metadata", {})[CODE_DIR] = relative
    return translated


def _package(sam: dict[str, Any]) -> dict[str, str]:
    """Point local CodeUri/ContentUri at CODE_BUCKET, as `sam package` does; return each S3
    key's local directory."""
    packaged: dict[str, str] = {}

    def rewrite(properties: dict[str, Any], uri_key: str) -> None:
        uri = properties.get(uri_key)
        if not isinstance(uri, str) or uri.startswith("s3://"):
            return  # already in S3, or an intrinsic: not local code
        relative = uri.strip("/") or "."
        key = f"{relative}.zip"
        packaged[key] = relative
        properties[uri_key] = f"s3://{CODE_BUCKET}/{key}"

    function_globals = sam.get("Globals", {}).get("Function", {})
    if isinstance(function_globals, dict):
        rewrite(function_globals, "CodeUri")
    for resource in sam.get("Resources", {}).values():
        uri_key = _LOCAL_CODE.get(resource.get("Type", ""))
        if uri_key is not None and isinstance(resource.get("Properties"), dict):
            rewrite(resource["Properties"], uri_key)
    return packaged
