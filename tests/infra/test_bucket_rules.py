"""The uploads bucket's own rules: who may write where, who may list, what expires, which URLs.

moto evaluates neither bucket policies nor IAM conditions, so the policy's shape is asserted
here, on template.yaml and on the template SAM makes of it (docs/security.md).
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from syncdrop.config import checked_base_url
from syncdrop_local.runtime.local_runtime import REPO_ROOT
from syncdrop_local.runtime.template import Resolver, load_template
from tests.infra.iam import function_statements
from tests.unit.test_base_url import ACCEPTED, REFUSED

SAM_PYTHON = REPO_ROOT / ".venv-sam" / "bin" / "python"
WRITTEN_PREFIXES = ("work/", "results/", "outputs/")
REQUIRED = {"NotificationEmail": "person@example.com", "SyncApiKey": "sk-test"}

# SAM's transform, offline, as `sam deploy` runs it (CodeUri rewritten as `sam package` does).
TRANSLATE = """
import json, sys
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import yaml_parse
template = yaml_parse(open(sys.argv[1]).read())
for resource in template["Resources"].values():
    props = resource.get("Properties", {})
    for name in ("CodeUri", "ContentUri"):
        if isinstance(props.get(name), str):
            props[name] = "s3://bucket/" + props[name].strip("/").replace("/", "-") + ".zip"
out = Translator(managed_policy_map=None, sam_parser=Parser()).translate(
    sam_template=template, parameter_values=json.loads(sys.argv[2]), passthrough_metadata=True
)
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    if not SAM_PYTHON.exists():
        pytest.fail(f"{SAM_PYTHON} is missing: run `make venv` (make test does)")
    done = subprocess.run(
        [str(SAM_PYTHON), "-c", TRANSLATE, str(REPO_ROOT / "template.yaml"), json.dumps(REQUIRED)],
        capture_output=True,
        text=True,
        check=False,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


def statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    """The function's SAM Policies, or those of the AWS::IAM::Role it names."""
    return function_statements(template, function)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def put_object_grants(template: dict[str, Any]) -> dict[str, set[str]]:
    """prefix -> the functions whose role may PutObject there (from their own policies)."""
    grants: dict[str, set[str]] = {p: set() for p in WRITTEN_PREFIXES}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for statement in statements(template, name):
            if statement["Effect"] != "Allow" or "s3:PutObject" not in as_list(statement["Action"]):
                continue
            for target in as_list(statement["Resource"]):
                for prefix in WRITTEN_PREFIXES:
                    if f"/{prefix}*" in json.dumps(target):
                        grants[prefix].add(name)
    return grants


def write_denials(template: dict[str, Any]) -> dict[str, set[str]]:
    """prefix -> the functions whose role the bucket policy lets PutObject there."""
    policy = template["Resources"]["UploadsBucketPolicy"]["Properties"]["PolicyDocument"]
    allowed: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        if statement["Effect"] != "Deny" or statement.get("Condition", {}).get("Bool"):
            continue
        assert statement["Principal"] == "*"
        assert as_list(statement["Action"]) == ["s3:PutObject"]
        (resource,) = as_list(statement["Resource"])
        prefix = re.fullmatch(r"\$\{UploadsBucket\.Arn\}/(\w+/)\*", resource["Fn::Sub"])
        assert prefix, resource
        (condition,) = statement["Condition"].items()
        assert condition[0] == "ArnNotEquals"
        roles = as_list(condition[1]["aws:PrincipalArn"])
        names = set()
        for role in roles:
            logical_id, attribute = role["Fn::GetAtt"]
            assert attribute == "Arn"
            assert logical_id.endswith("FunctionRole")
            names.add(logical_id.removesuffix("Role"))
        assert prefix.group(1) not in allowed, "one statement per prefix"
        allowed[prefix.group(1)] = names
    return allowed


def test_only_the_writing_functions_roles_may_write_work_results_and_outputs(template):
    allowed = write_denials(template)
    assert allowed == {
        "work/": {"SubmitBatchFunction"},
        "results/": {"FanOutResultsFunction"},
        "outputs/": {"CopyOutputsFunction"},
    }
    # The same functions, and only they, are granted PutObject there by their roles.
    assert allowed == put_object_grants(template)


def test_the_roles_named_by_the_bucket_policy_exist_once_sam_has_expanded_the_template(
    translated,
):
    resources = translated["Resources"]
    for name in ("SubmitBatchFunction", "FanOutResultsFunction", "CopyOutputsFunction"):
        assert resources[f"{name}Role"]["Type"] == "AWS::IAM::Role"
        assert resources[name]["Properties"]["Role"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}


def references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", text)}
                found |= references(value) if isinstance(value, list) else set()
            else:
                found |= references(value)
    elif isinstance(node, list):
        for value in node:
            found |= references(value)
    return found


def dependencies(resources: dict[str, Any]) -> Callable[[str], set[str]]:
    """What each resource needs, directly or not, through references and DependsOn."""
    edges = {
        name: {
            r
            for r in references(resource.get("Properties", {}))
            | set(as_list(resource.get("DependsOn", [])))
            if r in resources
        }
        for name, resource in resources.items()
    }

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(edges[start])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(edges[name])
        return seen

    return reachable


def test_the_bucket_its_policy_and_the_writing_roles_are_in_no_dependency_cycle(translated):
    """The policy names the roles, the roles name the bucket: a cycle would fail the deploy."""
    reachable = dependencies(translated["Resources"])
    policy_needs = reachable("UploadsBucketPolicy")
    assert {"UploadsBucket", "SubmitBatchFunctionRole", "CopyOutputsFunctionRole"} <= policy_needs
    for name in (
        "UploadsBucketPolicy",
        "UploadsBucket",
        "SubmitBatchFunctionRole",
        "FanOutResultsFunctionRole",
        "CopyOutputsFunctionRole",
        "ReconcileFunctionRole",
    ):
        assert name not in reachable(name), f"{name} depends on itself"


def test_submit_batch_may_list_incoming_only(template):
    listing = [
        (name, s)
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for s in statements(template, name)
        if "s3:ListBucket" in as_list(s["Action"])
    ]
    assert [name for name, _ in listing] == ["SubmitBatchFunction"]
    ((_, statement),) = listing
    assert statement["Effect"] == "Allow"
    assert as_list(statement["Action"]) == ["s3:ListBucket"]
    assert statement["Resource"] == {"Fn::GetAtt": ["UploadsBucket", "Arn"]}
    assert statement["Condition"] == {"StringLike": {"s3:prefix": ["incoming/*"]}}


def lifecycle(template: dict[str, Any], **parameters: str) -> dict[str, dict[str, Any]]:
    values = {
        name: str(spec["Default"])
        for name, spec in template["Parameters"].items()
        if "Default" in spec
    }
    values.update(REQUIRED, **parameters)
    resolver = Resolver(template=template, parameters=values)
    bucket = template["Resources"]["UploadsBucket"]["Properties"]
    rules = resolver.resolve(bucket["LifecycleConfiguration"]["Rules"])
    return {rule["Id"]: rule for rule in rules if rule != ""}  # "" is AWS::NoValue here


def test_by_default_parts_and_old_versions_expire_but_nothing_current_of_the_owners(template):
    rules = lifecycle(template)
    assert set(rules) == {
        "abort-incomplete-multipart-uploads",
        "expire-work-files",
        "expire-replaced-results",
        "expire-replaced-outputs",
    }
    abort = rules["abort-incomplete-multipart-uploads"]
    assert "Prefix" not in abort  # the whole bucket
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": "7"}
    for prefix in ("results/", "outputs/"):
        rule = rules[f"expire-replaced-{prefix.rstrip('/')}"]
        assert rule["Prefix"] == prefix
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": "30"}
        assert "ExpirationInDays" not in rule
    # Invariant 6: no default rule touches an upload, current or replaced.
    assert not [r for r in rules.values() if r.get("Prefix", "").startswith("incoming")]


def test_retention_parameters_add_their_rules_and_zero_removes_them(template):
    rules = lifecycle(
        template,
        AbortIncompleteUploadDays="2",
        NoncurrentVersionDays="0",
        ResultsRetentionDays="90",
        OutputsRetentionDays="30",
        UploadsRetentionDays="365",
    )
    assert set(rules) == {
        "abort-incomplete-multipart-uploads",
        "expire-work-files",
        "expire-results",
        "expire-outputs",
        "expire-uploads",
    }
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": "2"
    }
    assert (rules["expire-results"]["Prefix"], rules["expire-results"]["ExpirationInDays"]) == (
        "results/",
        "90",
    )
    assert (rules["expire-outputs"]["Prefix"], rules["expire-outputs"]["ExpirationInDays"]) == (
        "outputs/",
        "30",
    )
    uploads = rules["expire-uploads"]
    assert uploads["Prefix"] == "incoming/"
    assert uploads["ExpirationInDays"] == "365"
    assert uploads["NoncurrentVersionExpiration"] == {"NoncurrentDays": "365"}


def test_lifecycle_day_parameters_are_numbers_where_zero_means_keep(template):
    parameters = template["Parameters"]
    assert parameters["AbortIncompleteUploadDays"]["MinValue"] == 1
    for name in (
        "NoncurrentVersionDays",
        "ResultsRetentionDays",
        "OutputsRetentionDays",
        "UploadsRetentionDays",
    ):
        assert parameters[name]["Type"] == "Number"
        assert parameters[name]["MinValue"] == 0
    for name in ("ResultsRetentionDays", "OutputsRetentionDays", "UploadsRetentionDays"):
        assert parameters[name]["Default"] == 0


def matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


@pytest.mark.parametrize("url", ACCEPTED)
def test_the_template_takes_https_urls_that_settings_take_and_no_plain_http(template, url):
    pattern = template["Parameters"]["SyncApiBaseUrl"]["AllowedPattern"]
    assert checked_base_url(url) == url
    # The template is https only; plain http is for the local emulator on this machine.
    expected = url.startswith("https://") and not url.endswith("/")
    assert matches(pattern, url) is expected


@pytest.mark.parametrize("url", REFUSED)
def test_the_template_refuses_what_settings_refuse(template, url):
    pattern = template["Parameters"]["SyncApiBaseUrl"]["AllowedPattern"]
    assert not matches(pattern, url)


def test_the_default_base_url_passes_both(template):
    parameter = template["Parameters"]["SyncApiBaseUrl"]
    assert matches(parameter["AllowedPattern"], parameter["Default"])
    assert checked_base_url(parameter["Default"]) == parameter["Default"]


def test_result_hosts_come_from_a_parameter_into_both_downloading_functions(template):
    parameter = template["Parameters"]["ResultUrlHosts"]
    assert parameter["Default"] == "*.sync.so"
    assert "amazonaws.com" not in parameter["Default"]
    pattern = parameter["AllowedPattern"]
    for good in ("", "*.sync.so", "*.sync.so,outputs.s3.us-west-2.amazonaws.com"):
        assert matches(pattern, good), good
    for bad in ("*", "*.sync.so, x.example", "a/b", "https://x.example", "*.*.so"):
        assert not matches(pattern, bad), bad
    for name in ("FanOutResultsFunction", "CopyOutputsFunction"):
        env = template["Resources"][name]["Properties"]["Environment"]["Variables"]
        assert env["RESULT_URL_HOSTS"] == {"Ref": "ResultUrlHosts"}


def test_the_local_runtime_still_creates_the_bucket(moto_stack):
    s3 = moto_stack.client("s3")
    bucket = moto_stack.ref("UploadsBucket")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert len(rules) == 2


def test_no_resource_depends_on_itself_once_sam_has_expanded_the_template(translated):
    """CloudFormation refuses a template with a dependency cycle: the HTTP API's route names
    the webhook function, so that function's environment must not name the API."""
    reachable = dependencies(translated["Resources"])
    assert "ReceiveWebhookFunction" in reachable("WebhookApi")
    assert [name for name in translated["Resources"] if name in reachable(name)] == []
