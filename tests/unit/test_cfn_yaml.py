"""template.yaml read by the local stack's own loader, as cfn-lint (and CloudFormation) read it."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.decode import decode

from syncdrop_local.runtime import cfn_yaml
from syncdrop_local.runtime.template import TemplateError, load_template

ROOT = Path(__file__).resolve().parents[2]


def _plain(node: object) -> object:
    """cfn-lint's node classes as plain dicts, lists and strings."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def test_template_yaml_reads_as_cfn_lint_decodes_it():
    decoded, problems = decode(str(ROOT / "template.yaml"))
    assert problems == []
    assert cfn_yaml.load(ROOT / "template.yaml") == _plain(decoded)


def test_short_tags_become_their_long_form(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(
        "A: !Ref Bucket\n"
        "B: !GetAtt Queue.Arn\n"
        "C: !GetAtt Api.Outputs.Url\n"
        "D: !Sub '${AWS::StackName}-x'\n"
        "E: !If [IsProd, !Ref X, !Ref AWS::NoValue]\n"
        "F: !Join ['', [a, !Select [0, !Split [',', 'p,q']]]]\n"
        "G: !Condition Copies\n"
        "H: !Equals [!Ref Mode, batch]\n",
        encoding="utf-8",
    )
    assert cfn_yaml.load(path) == {
        "A": {"Ref": "Bucket"},
        "B": {"Fn::GetAtt": ["Queue", "Arn"]},
        "C": {"Fn::GetAtt": ["Api", "Outputs.Url"]},
        "D": {"Fn::Sub": "${AWS::StackName}-x"},
        "E": {"Fn::If": ["IsProd", {"Ref": "X"}, {"Ref": "AWS::NoValue"}]},
        "F": {"Fn::Join": ["", ["a", {"Fn::Select": [0, {"Fn::Split": [",", "p,q"]}]}]]},
        "G": {"Condition": "Copies"},
        "H": {"Fn::Equals": [{"Ref": "Mode"}, "batch"]},
    }


@pytest.mark.parametrize(
    ("text", "why"),
    [("Resources: [unclosed\n", "not valid YAML"), ("- a list\n", "holds no template")],
)
def test_a_broken_template_is_refused_with_its_reason(tmp_path, text, why):
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=why):
        load_template(path)


def test_python_objects_in_yaml_are_refused_as_the_safe_loader_refuses_them(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text("A: !!python/object/apply:os.system ['true']\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="not valid YAML"):
        load_template(path)
