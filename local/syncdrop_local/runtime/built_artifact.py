"""What a `sam build` output deploys: each function's code directory, handler and layers, read
from the build's own template, and the FunctionConfig that runs it as Lambda would."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

from syncdrop_local.runtime.function_config import FunctionConfig
from syncdrop_local.runtime.stack import FunctionSpec
from syncdrop_local.runtime.template import TemplateError

# Where the python runtimes look inside a layer: Lambda mounts the layer at /opt and puts
# /opt/python on the import path.
LAYER_PYTHON = "python"


@dataclass(frozen=True)
class BuiltFunction:
    logical_id: str
    handler: str
    code_dir: Path  # the build's <FunctionLogicalId>/, what Lambda unzips to /var/task
    layer_dirs: tuple[Path, ...]  # each layer's python/, what Lambda puts on the path
    architectures: tuple[str, ...]


def built_functions(build_dir: Path) -> dict[str, BuiltFunction]:
    """Every AWS::Serverless::Function in ``build_dir/template.yaml``, by logical id."""
    template = yaml_parse((build_dir / "template.yaml").read_text())
    resources: dict[str, Any] = template.get("Resources", {})
    function_globals: dict[str, Any] = template.get("Globals", {}).get("Function", {})
    functions = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**function_globals, **resource.get("Properties", {})}
        layers = tuple(_layer_dir(build_dir, resources, layer) for layer in props.get("Layers", []))
        functions[logical_id] = BuiltFunction(
            logical_id=logical_id,
            handler=str(props["Handler"]),
            code_dir=build_dir / str(props["CodeUri"]),
            layer_dirs=layers,
            architectures=tuple(props.get("Architectures", ["x86_64"])),
        )
    return functions


def built_config(
    spec: FunctionSpec, built: BuiltFunction, environment: dict[str, str] | None = None
) -> FunctionConfig:
    """The deployed function (variables, limits, role) running the built code and layers."""
    return FunctionConfig(
        name=spec.function_name or spec.logical_id,
        handler=built.handler,
        code_dir=built.code_dir,
        layer_dirs=built.layer_dirs,
        environment=spec.environment if environment is None else environment,
        timeout=float(spec.timeout),
        memory_mb=spec.memory_size,
        runtime=spec.runtime or "python3.13",
        role_arn=spec.role_arn,
    )


def _layer_dir(build_dir: Path, resources: dict[str, Any], layer: Any) -> Path:
    logical_id = layer.get("Ref") if isinstance(layer, dict) else None
    resource = resources.get(logical_id or "", {})
    if resource.get("Type") != "AWS::Serverless::LayerVersion":
        raise TemplateError(f"layer {layer} is not a layer of the build in {build_dir}")
    return build_dir / str(resource["Properties"]["ContentUri"]) / LAYER_PYTHON
