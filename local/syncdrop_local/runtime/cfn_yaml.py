"""template.yaml as plain data: YAML with CloudFormation's short tags (``!Ref``, ``!Sub``, ...)
turned into their long form, as CloudFormation reads them.

PyYAML's safe loader with one constructor for every ``!`` tag: the local stack reads its
template at every start, and cfn-lint's decoder costs 0.7 s of imports for the same data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# Tags that keep their name; every other ``!X`` is ``Fn::X``.
_UNPREFIXED = frozenset({"Ref", "Condition"})


# libyaml's parser where PyYAML was built with it (its wheels are), the same constructors.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[misc]
    """The safe loader, plus CloudFormation's short-form intrinsic functions."""


def _intrinsic(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in _UNPREFIXED else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt":  # !GetAtt Resource.Attribute (the attribute may hold dots)
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load(path: Path) -> dict[str, Any]:
    """The template at ``path``; ValueError when it is not a YAML mapping."""
    text = path.read_text(encoding="utf-8")
    try:
        # _CfnLoader is the safe loader with one constructor added, for "!" tags only.
        data = yaml.load(text, Loader=_CfnLoader)  # noqa: S506  # nosec B506 # a safe loader
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds no template (a YAML mapping at the top)")
    return data
