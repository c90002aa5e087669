"""Read template.yaml (CloudFormation tags included) and evaluate its intrinsic functions."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from syncdrop_local.runtime import cfn_yaml

REGION = "us-east-1"
ACCOUNT = "123456789012"
_SUB = re.compile(r"\$\{([^}!][^}]*)\}")
# Ref AWS::NoValue: the entry holding it is left out, as CloudFormation leaves it out.
_NO_VALUE = object()


class TemplateError(ValueError):
    """template.yaml uses something the local runtime cannot evaluate."""


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data (a fresh copy: callers may change it)."""
    return copy.deepcopy(_decoded(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=4)
def _decoded(path: Path, _mtime: int) -> dict[str, Any]:
    try:
        return cfn_yaml.load(path)
    except (OSError, ValueError) as exc:
        raise TemplateError(f"{path} could not be read: {exc}") from exc


@dataclass
class Resolver:
    """Evaluates Ref, Fn::GetAtt, Fn::Sub, Fn::Join, Fn::If and friends against local values."""

    template: dict[str, Any]
    parameters: dict[str, str]
    # logical id -> Ref value, and (logical id, attribute) -> GetAtt value
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    stack_name: str = "syncdrop-local"

    def pseudo(self) -> dict[str, str]:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{self.stack_name}/local"
            ),
        }

    def ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.refs:
            return self.refs[name]
        raise TemplateError(f"Ref {name}: unknown here (not created locally)")

    def get_att(self, name: str, attribute: str) -> str:
        try:
            return self.attributes[(name, attribute)]
        except KeyError:
            raise TemplateError(f"GetAtt {name}.{attribute}: unknown here") from None

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, node: Any) -> Any:
        """``node`` evaluated; AWS::NoValue drops its list entry or key, and is None alone."""
        value = self._resolve(node)
        return None if value is _NO_VALUE else value

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self._resolve(v) for v in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            handler = self._functions().get(key)
            if handler is not None:
                return handler(value)
        resolved = ((k, self._resolve(v)) for k, v in node.items())
        return {k: v for k, v in resolved if v is not _NO_VALUE}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": lambda v: _NO_VALUE if v == "AWS::NoValue" else self.ref(v),
            "Fn::GetAtt": lambda v: self.get_att(*(v.split(".", 1) if isinstance(v, str) else v)),
            "Fn::Sub": self._sub,
            "Fn::Join": lambda v: str(v[0]).join(str(x) for x in self.resolve(v[1])),
            "Fn::If": lambda v: self._resolve(v[1] if self.condition(v[0]) else v[2]),
            "Fn::Equals": lambda v: self.resolve(v[0]) == self.resolve(v[1]),
            "Fn::Not": lambda v: not self.resolve(v[0]),
            "Fn::And": lambda v: all(self.resolve(x) for x in v),
            "Fn::Or": lambda v: any(self.resolve(x) for x in v),
            "Condition": lambda v: self.condition(v),
            "Fn::Select": lambda v: self.resolve(v[1])[int(self.resolve(v[0]))],
        }

    def _sub(self, value: Any) -> str:
        text, extra = (value, {}) if isinstance(value, str) else (value[0], value[1])
        local = {k: str(self.resolve(v)) for k, v in extra.items()}

        def one(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local:
                return local[name]
            if "." in name and not name.startswith("AWS::"):
                resource, attribute = name.split(".", 1)
                return self.get_att(resource, attribute)
            return self.ref(name)

        return _SUB.sub(one, text)
