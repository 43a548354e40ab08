#!/usr/bin/env python3
"""Create the resources of template.yaml in the local AWS emulator, and describe them.

Run it with the project's venv, against moto (or LocalStack) on AWS_ENDPOINT_URL:

    .venv/bin/python localstack/provision.py [--stack-name checkout-local]
        [--param LogLevel=debug ...] [--api-url http://127.0.0.1:3000]

template.yaml is the only list of resources: every resource it declares is created here
by a small function keyed by its type (``PROVISIONERS``). Running it again keeps what
exists. Serverless functions and APIs are not created in the emulator (cargo lambda watch
and the local runner play them); IAM and policy resources have no local effect. Unknown
types are reported as skipped.

Physical names: a name property (TableName, TopicName, QueueName, Name, ...) wins;
otherwise ``<stack-name>-<LogicalId>`` (plus ``.fifo`` for FIFO topics and queues).
The account is 123456789012, as in moto.

Outputs, in ``.local/`` at the project root (git-ignored):

``.local/stack.json`` -- the template with every intrinsic function resolved, so that a
reader needs no CloudFormation knowledge::

    {
      "AWSTemplateFormatVersion": "2010-09-09",
      "Description": "...",
      "StackName": "checkout-local",
      "Region": "us-east-1",
      "AccountId": "123456789012",
      "Partition": "aws",
      "URLSuffix": "amazonaws.com",
      "EndpointUrl": "http://127.0.0.1:4566",     # the AWS emulator
      "ApiUrl": "http://127.0.0.1:3000",          # where the local runner serves HttpApis
      "Parameters": {"LogLevel": "info"},         # resolved values
      "Conditions": {"IsProd": false},            # evaluated (only if the template has any)
      "Resources": {
        "<LogicalId>": {
          "Type": "AWS::SQS::Queue",
          "Properties": {...},                    # resolved; AWS::NoValue removed
          "Metadata": {...},                      # resolved, only if the template has it
          "PhysicalId": "http://127.0.0.1:4566/123456789012/checkout-local-Q",  # = !Ref
          "Attributes": {"Arn": "...", "QueueName": "...", "QueueUrl": "..."}  # = !GetAtt
        },
        "<FunctionLogicalId>": {
          "Type": "AWS::Serverless::Function",
          "Properties": {...},                    # Globals.Function merged in (SAM rules:
                                                  # maps merged, lists appended, the
                                                  # function's own scalars win), Events too
          "Metadata": {"BuildProperties": {"Binary": "order-search"}, ...},
          "PhysicalId": "checkout-local-<FunctionLogicalId>",
          "Attributes": {"Arn": "arn:aws:lambda:...:function:checkout-local-..."}
        }
      },
      "Outputs": {"ApiUrl": {"Value": "http://127.0.0.1:3000", "Description": "..."}}
    }

Resources whose Condition is false are left out. Resources SAM generates and a template
may refer to (``<Function>Role``, ``ServerlessHttpApi`` for HttpApi events without an
ApiId) are described too, with empty Properties. Within any resolved string, the
execute-api URL of a local HttpApi (``https://<api-id>.execute-api.<region>.<suffix>``)
is replaced by ``--api-url``, where the local runner serves every HttpApi, so functions
that call another endpoint through the API reach the runner.

``.local/functions.env`` -- ``KEY=VALUE`` lines: the union of every function's resolved
Environment.Variables (one variable must mean one thing in every function, or this script
fails), plus AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY for the emulator. It is written for both
``cargo lambda watch --env-file`` and ``set -a; . .local/functions.env; set +a``.

Prints one line per resource: created / exists / skipped. Exits non-zero with a message
if the emulator cannot be reached or the template cannot be resolved.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
DEFAULT_REGION = "us-east-1"
DEFAULT_STACK = "checkout-local"
DEFAULT_API_URL = "http://127.0.0.1:3000"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
# SAM resource type -> its section under Globals.
SAM_GLOBALS = {
    "AWS::Serverless::Function": "Function",
    "AWS::Serverless::Api": "Api",
    "AWS::Serverless::HttpApi": "HttpApi",
    "AWS::Serverless::SimpleTable": "SimpleTable",
    "AWS::Serverless::StateMachine": "StateMachine",
    "AWS::Serverless::LayerVersion": "LayerVersion",
}


class ProvisionError(Exception):
    """A problem the user must fix; printed without a traceback."""


# --------------------------------------------------------------------------- YAML


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short tags into their long form."""


def _construct_short_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_short_tag)


def load_template(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as f:
            template = yaml.load(f, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    except OSError as e:
        raise ProvisionError(f"cannot read the template {path}: {e}") from e
    except yaml.YAMLError as e:
        raise ProvisionError(f"{path} is not valid YAML: {e}") from e
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise ProvisionError(f"{path} has no Resources section")
    return template


# --------------------------------------------------------------------------- intrinsics

NO_VALUE = object()  # AWS::NoValue: the key or list item disappears
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
INTRINSICS = {
    "Ref",
    "Condition",
    "Fn::GetAtt",
    "Fn::Sub",
    "Fn::Join",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::Not",
    "Fn::And",
    "Fn::Or",
    "Fn::FindInMap",
    "Fn::Base64",
    "Fn::GetAZs",
    "Fn::ImportValue",
    "Fn::Cidr",
    "Fn::Transform",
    "Fn::ToJsonString",
    "Fn::Length",
}


def intrinsic(value: Any) -> tuple[str, Any] | None:
    """The (name, argument) of an intrinsic function call, or None."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key in INTRINSICS:
            return key, arg
    return None


def sub_references(text: str) -> list[str]:
    """Names a !Sub string refers to (``${Name}`` or ``${Name.Attr}``), not ``${!Literal}``."""
    return [m for m in SUB_VARIABLE.findall(text) if not m.startswith("!")]


def referenced_resources(value: Any, resources: set[str]) -> set[str]:
    """Logical ids of resources that ``value`` refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()

    def walk(v: Any, sub_vars: frozenset[str] = frozenset()) -> None:
        call = intrinsic(v)
        if call:
            name, arg = call
            if name == "Ref" and isinstance(arg, str) and arg in resources:
                found.add(arg)
            elif name == "Fn::GetAtt":
                target = arg.split(".", 1)[0] if isinstance(arg, str) else arg[0]
                if isinstance(target, str) and target in resources:
                    found.add(target)
                walk(arg)
            elif name == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                for ref in sub_references(text):
                    base = ref.split(".", 1)[0]
                    if base in resources and ref not in variables:
                        found.add(base)
                walk(variables)
            else:
                walk(arg)
        elif isinstance(v, dict):
            for item in v.values():
                walk(item)
        elif isinstance(v, list):
            for item in v:
                walk(item)

    walk(value)
    return found


def as_text(value: Any, where: str) -> str:
    """A resolved scalar as CloudFormation would put it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise ProvisionError(f"{where}: expected a string, got {json.dumps(value, default=str)}")


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


@dataclass
class Physical:
    """What !Ref and !GetAtt return for one resource."""

    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


class Resolver:
    """Resolves intrinsic functions against parameters, conditions and created resources."""

    def __init__(self, template: dict, stack: str, region: str, overrides: dict[str, str],
                 api_url: str) -> None:
        self.template = template
        self.stack = stack
        self.region = region
        self.api_url = api_url.rstrip("/")
        self.mappings = template.get("Mappings") or {}
        self.parameters = self._parameters(template.get("Parameters") or {}, overrides)
        self.physical: dict[str, Physical] = {}
        self._conditions = template.get("Conditions") or {}
        self._condition_values: dict[str, bool] = {}
        self._local_urls: dict[str, str] = {}  # execute-api URL prefix -> api_url

    # -- parameters and conditions

    @staticmethod
    def _parameters(declared: dict, overrides: dict[str, str]) -> dict[str, Any]:
        unknown = set(overrides) - set(declared)
        if unknown:
            raise ProvisionError(f"--param names no template parameter: {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            spec = spec or {}
            if name in overrides:
                value: Any = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                raise ProvisionError(f"parameter {name} has no Default: pass --param {name}=VALUE")
            kind = str(spec.get("Type", "String"))
            if kind == "CommaDelimitedList" or kind.startswith("List<"):
                value = value if isinstance(value, list) else [
                    item.strip() for item in str(value).split(",")
                ]
            else:
                value = as_text(value, f"parameter {name}")
                allowed = spec.get("AllowedValues")
                if allowed and value not in [as_text(a, name) for a in allowed]:
                    raise ProvisionError(f"parameter {name}={value} is not one of {allowed}")
            values[name] = value
        return values

    def condition(self, name: str) -> bool:
        if name not in self._condition_values:
            if name not in self._conditions:
                raise ProvisionError(f"unknown condition {name}")
            self._condition_values[name] = as_bool(self.resolve(self._conditions[name], f"Conditions.{name}"))
        return self._condition_values[name]

    def conditions(self) -> dict[str, bool]:
        return {name: self.condition(name) for name in self._conditions}

    # -- physical ids

    def register(self, logical_id: str, physical: Physical) -> None:
        self.physical[logical_id] = physical

    def register_http_api(self, logical_id: str) -> Physical:
        """A stable local id for an HttpApi, and its execute-api URL mapped to the runner."""
        api_id = hashlib.sha1(f"{self.stack}/{logical_id}".encode()).hexdigest()[:10]
        self._local_urls[f"https://{api_id}.execute-api.{self.region}.{URL_SUFFIX}"] = self.api_url
        physical = Physical(api_id, {"ApiId": api_id, "ApiEndpoint": self.api_url})
        self.register(logical_id, physical)
        return physical

    def localize(self, value: Any) -> Any:
        """Point execute-api URLs of local HttpApis at the local runner."""
        if isinstance(value, str):
            for aws_url, local_url in self._local_urls.items():
                value = value.replace(aws_url, local_url)
            return value
        if isinstance(value, dict):
            return {k: self.localize(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.localize(v) for v in value]
        return value

    # -- resolution

    def resolve(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic function replaced by its result."""
        return self.localize(self._resolve(value, where))

    def _resolve(self, value: Any, where: str) -> Any:
        call = intrinsic(value)
        if call:
            return self._call(call[0], call[1], where)
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                resolved = self._resolve(item, f"{where}.{key}")
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            items = [self._resolve(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        return value

    def ref(self, name: str, where: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.stack,
            "AWS::StackId":
                f"arn:{PARTITION}:cloudformation:{self.region}:{ACCOUNT_ID}:stack/{self.stack}/local",
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::Partition": PARTITION,
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name].ref
        if name in (self.template.get("Resources") or {}):
            raise ProvisionError(f"{where}: !Ref {name}: that resource is not available locally")
        raise ProvisionError(f"{where}: !Ref {name}: no such parameter or resource")

    def get_att(self, logical_id: str, attribute: str, where: str) -> Any:
        physical = self.physical.get(logical_id)
        if physical is None:
            raise ProvisionError(f"{where}: !GetAtt {logical_id}.{attribute}: no such resource")
        if attribute not in physical.attributes:
            known = ", ".join(sorted(physical.attributes)) or "none"
            raise ProvisionError(
                f"{where}: !GetAtt {logical_id}.{attribute}: not known locally (known: {known})"
            )
        return physical.attributes[attribute]

    def _call(self, name: str, arg: Any, where: str) -> Any:
        here = f"{where} ({name})"
        if name == "Ref":
            return self.ref(self._resolve(arg, here), here)
        if name == "Condition":
            return self.condition(arg)
        if name == "Fn::GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            logical_id, attribute = arg[0], self._resolve(arg[1], here)
            return self.get_att(logical_id, as_text(attribute, here), here)
        if name == "Fn::Sub":
            return self._sub(arg, here)
        if name == "Fn::Join":
            delimiter, items = arg
            items = self._resolve(items, here)
            return as_text(delimiter, here).join(as_text(i, here) for i in items)
        if name == "Fn::Select":
            index, items = self._resolve(arg[0], here), self._resolve(arg[1], here)
            try:
                return items[int(index)]
            except (IndexError, ValueError, TypeError) as e:
                raise ProvisionError(f"{here}: cannot select {index} from {items}") from e
        if name == "Fn::Split":
            delimiter, text = arg
            return as_text(self._resolve(text, here), here).split(as_text(delimiter, here))
        if name == "Fn::If":
            condition, if_true, if_false = arg
            return self._resolve(if_true if self.condition(condition) else if_false, here)
        if name == "Fn::Equals":
            left, right = (self._resolve(a, here) for a in arg)
            return as_text(left, here) == as_text(right, here)
        if name == "Fn::Not":
            return not as_bool(self._resolve(arg[0], here))
        if name == "Fn::And":
            return all(as_bool(self._resolve(a, here)) for a in arg)
        if name == "Fn::Or":
            return any(as_bool(self._resolve(a, here)) for a in arg)
        if name == "Fn::FindInMap":
            keys = [as_text(self._resolve(a, here), here) for a in arg[:3]]
            try:
                return self.mappings[keys[0]][keys[1]][keys[2]]
            except (KeyError, TypeError) as e:
                raise ProvisionError(f"{here}: no mapping {'/'.join(keys)}") from e
        if name == "Fn::Base64":
            return base64.b64encode(as_text(self._resolve(arg, here), here).encode()).decode()
        if name == "Fn::GetAZs":
            return [f"{self.region}{zone}" for zone in "abc"]
        if name == "Fn::ToJsonString":
            return json.dumps(self._resolve(arg, here), separators=(",", ":"))
        if name == "Fn::Length":
            return len(self._resolve(arg, here))
        raise ProvisionError(f"{here}: {name} is not supported locally")

    def _sub(self, arg: Any, where: str) -> str:
        if isinstance(arg, str):
            text, variables = arg, {}
        else:
            text, variables = arg[0], arg[1] or {}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = self._resolve(variables[name], where)
            elif "." in name:
                logical_id, attribute = name.split(".", 1)
                value = self.get_att(logical_id, attribute, where)
            else:
                value = self.ref(name, where)
            return as_text(value, where)

        return SUB_VARIABLE.sub(replace, as_text(text, where))


# --------------------------------------------------------------------------- SAM globals


def merge_globals(global_value: Any, own_value: Any) -> Any:
    """SAM's Globals rule: maps are merged, lists are appended, the resource's scalars win."""
    if isinstance(global_value, dict) and isinstance(own_value, dict):
        merged = dict(global_value)
        for key, value in own_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(own_value, list):
        return global_value + own_value
    return own_value


def with_globals(template: dict) -> dict[str, dict]:
    """The template's resources, with SAM Globals merged into each SAM resource."""
    globals_ = template.get("Globals") or {}
    resources = {}
    for logical_id, resource in template["Resources"].items():
        resource = dict(resource or {})
        section = globals_.get(SAM_GLOBALS.get(resource.get("Type", ""), ""))
        if section:
            resource["Properties"] = merge_globals(section, resource.get("Properties") or {})
        resources[logical_id] = resource
    return resources


def implicit_sam_resources(resources: dict[str, dict]) -> dict[str, str]:
    """Resources SAM generates that a template may refer to: logical id -> type."""
    implicit = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource.get("Properties") or {}
        if "Role" not in properties:
            implicit[f"{logical_id}Role"] = "AWS::IAM::Role"
        for event in (properties.get("Events") or {}).values():
            if (event or {}).get("Type") == "HttpApi" and "ApiId" not in (event.get("Properties") or {}):
                implicit["ServerlessHttpApi"] = "AWS::Serverless::HttpApi"
    return {k: v for k, v in implicit.items() if k not in resources}


def creation_order(resources: dict[str, dict]) -> list[str]:
    """Logical ids so that every resource comes after the ones it refers to."""
    names = set(resources)
    needs = {}
    for logical_id, resource in resources.items():
        depends_on = resource.get("DependsOn") or []
        depends_on = [depends_on] if isinstance(depends_on, str) else list(depends_on)
        refs = referenced_resources(
            {"Properties": resource.get("Properties"), "Metadata": resource.get("Metadata")}, names
        )
        needs[logical_id] = (refs | {d for d in depends_on if d in names}) - {logical_id}
    order: list[str] = []
    done: set[str] = set()
    while len(order) < len(resources):
        ready = [n for n in resources if n not in done and needs[n] <= done]
        if not ready:
            cycle = sorted(n for n in resources if n not in done)
            raise ProvisionError(f"circular references between resources: {', '.join(cycle)}")
        order.extend(ready)
        done.update(ready)
    return order


# --------------------------------------------------------------------------- emulator


class Emulator:
    """boto3 clients for the emulator, made once."""

    def __init__(self, endpoint: str, region: str) -> None:
        self.endpoint = endpoint
        self.region = region
        self._session = boto3.session.Session(
            aws_access_key_id="test", aws_secret_access_key="test", region_name=region
        )
        self._config = Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 2})
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service, endpoint_url=self.endpoint, config=self._config
            )
        return self._clients[service]

    def check_reachable(self) -> None:
        try:
            with urllib.request.urlopen(self.endpoint, timeout=5):
                pass
        except urllib.error.HTTPError:
            pass  # it answered; any status will do
        except (urllib.error.URLError, OSError) as e:
            raise ProvisionError(
                f"the AWS emulator is not reachable at {self.endpoint} ({e}).\n"
                "Start it first, e.g.: .venv/bin/moto_server -H 127.0.0.1 -p 4566"
            ) from e


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@dataclass
class Outcome:
    status: str  # created | exists | skipped
    physical: Physical
    note: str = ""


@dataclass
class Context:
    """What a provisioner gets: the emulator, the resolver and the resource's naming."""

    emulator: Emulator
    resolver: Resolver
    logical_id: str
    properties: dict

    def name(self, name_property: str, fifo: bool = False) -> str:
        given = self.properties.get(name_property)
        if given:
            return str(given)
        name = f"{self.resolver.stack}-{self.logical_id}"
        return f"{name}.fifo" if fifo else name

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:{PARTITION}:{service}:{self.resolver.region if region else ''}:{ACCOUNT_ID}:{resource}"


def tags_as_map(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): as_text(v, "Tags") for k, v in tags.items()}
    return {t["Key"]: as_text(t["Value"], "Tags") for t in tags or []}


def ignored_note(properties: dict, used: set[str]) -> str:
    ignored = sorted(set(properties) - used)
    return f"ignored locally: {', '.join(ignored)}" if ignored else ""


def json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


# -- DynamoDB

TABLE_PASS_THROUGH = {
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "TableClass",
    "DeletionProtectionEnabled",
}
INDEX_KEYS = {"IndexName", "KeySchema", "Projection", "ProvisionedThroughput", "OnDemandThroughput"}


def provisioned_throughput(value: dict) -> dict:
    return {k: int(value[k]) for k in ("ReadCapacityUnits", "WriteCapacityUnits")}


def provision_table(ctx: Context) -> Outcome:
    props = ctx.properties
    dynamodb = ctx.emulator.client("dynamodb")
    name = ctx.name("TableName")
    try:
        table = dynamodb.describe_table(TableName=name)["Table"]
        status = "exists"
        note = ""
    except ClientError as e:
        if error_code(e) != "ResourceNotFoundException":
            raise
        request: dict[str, Any] = {"TableName": name}
        request.update({k: props[k] for k in TABLE_PASS_THROUGH if k in props})
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in props:
                request[key] = [
                    {k: v for k, v in index.items() if k in INDEX_KEYS} for index in props[key]
                ]
                for index in request[key]:
                    if "ProvisionedThroughput" in index:
                        throughput = index["ProvisionedThroughput"]
                        index["ProvisionedThroughput"] = provisioned_throughput(throughput)
        if "ProvisionedThroughput" in props:
            request["ProvisionedThroughput"] = provisioned_throughput(props["ProvisionedThroughput"])
        stream = props.get("StreamSpecification")
        if stream:
            request["StreamSpecification"] = {
                "StreamEnabled": True, "StreamViewType": stream["StreamViewType"]
            }
        if props.get("Tags"):
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags_as_map(props["Tags"]).items()]
        dynamodb.create_table(**request)
        dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        ttl = props.get("TimeToLiveSpecification")
        if ttl and as_bool(ttl.get("Enabled")):
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        table = dynamodb.describe_table(TableName=name)["Table"]
        status = "created"
        used = TABLE_PASS_THROUGH | {
            "TableName", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "ProvisionedThroughput",
            "StreamSpecification", "Tags", "TimeToLiveSpecification",
        }
        note = ignored_note(props, used)
    attributes = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    return Outcome(status, Physical(name, attributes), note)


# -- SNS

TOPIC_ATTRIBUTES = {
    "DisplayName",
    "FifoTopic",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "SignatureVersion",
    "TracingConfig",
    "ArchivePolicy",
    "DeliveryStatusLogging",
}


def provision_topic(ctx: Context) -> Outcome:
    props = ctx.properties
    sns = ctx.emulator.client("sns")
    name = ctx.name("TopicName", fifo=as_bool(props.get("FifoTopic", False)))
    arn = ctx.arn("sns", name)
    try:
        sns.get_topic_attributes(TopicArn=arn)
        status = "exists"
    except ClientError as e:
        if error_code(e) not in ("NotFound", "NotFoundException"):
            raise
        attributes = {
            k: json_text(v) if isinstance(v, (dict, list)) else as_text(v, k)
            for k, v in props.items()
            if k in TOPIC_ATTRIBUTES and k != "DeliveryStatusLogging"
        }
        request: dict[str, Any] = {"Name": name, "Attributes": attributes}
        if props.get("Tags"):
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags_as_map(props["Tags"]).items()]
        arn = sns.create_topic(**request)["TopicArn"]
        status = "created"
    for inline in props.get("Subscription") or []:
        ensure_subscription(sns, arn, inline["Protocol"], inline["Endpoint"], {})
    return Outcome(status, Physical(arn, {"TopicArn": arn, "TopicName": name}))


SUBSCRIPTION_ATTRIBUTES = (
    "RawMessageDelivery",
    "FilterPolicy",
    "FilterPolicyScope",
    "RedrivePolicy",
    "DeliveryPolicy",
    "SubscriptionRoleArn",
    "ReplayPolicy",
)


def ensure_subscription(sns: Any, topic_arn: str, protocol: str, endpoint: str,
                        attributes: dict[str, str]) -> tuple[str, str]:
    """(status, subscription arn) for one topic -> endpoint subscription."""
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    for page in paginator.paginate(TopicArn=topic_arn):
        for sub in page.get("Subscriptions", []):
            if sub["Protocol"] == protocol and sub["Endpoint"] == endpoint:
                return "exists", sub["SubscriptionArn"]
    response = sns.subscribe(
        TopicArn=topic_arn,
        Protocol=protocol,
        Endpoint=endpoint,
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )
    return "created", response["SubscriptionArn"]


def provision_subscription(ctx: Context) -> Outcome:
    props = ctx.properties
    attributes = {}
    for key in SUBSCRIPTION_ATTRIBUTES:
        if key in props:
            value = props[key]
            attributes[key] = json_text(value) if isinstance(value, (dict, list)) else as_text(value, key)
    status, arn = ensure_subscription(
        ctx.emulator.client("sns"), props["TopicArn"], props["Protocol"], props["Endpoint"], attributes
    )
    return Outcome(status, Physical(arn, {"Arn": arn}))


# -- SQS

QUEUE_ATTRIBUTES = {
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
}


def provision_queue(ctx: Context) -> Outcome:
    props = ctx.properties
    sqs = ctx.emulator.client("sqs")
    name = ctx.name("QueueName", fifo=as_bool(props.get("FifoQueue", False)))
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        status = "exists"
    except ClientError as e:
        if error_code(e) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
        attributes = {
            k: json_text(v) if isinstance(v, (dict, list)) else as_text(v, k)
            for k, v in props.items()
            if k in QUEUE_ATTRIBUTES
        }
        request: dict[str, Any] = {"QueueName": name, "Attributes": attributes}
        if props.get("Tags"):
            request["tags"] = tags_as_map(props["Tags"])
        url = sqs.create_queue(**request)["QueueUrl"]
        status = "created"
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return Outcome(status, Physical(url, {"Arn": arn, "QueueName": name, "QueueUrl": url}))


# -- EventBridge Scheduler

SCHEDULE_KEYS = (
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "FlexibleTimeWindow",
    "Target",
    "State",
    "Description",
    "StartDate",
    "EndDate",
    "KmsKeyArn",
)


def provision_schedule_group(ctx: Context) -> Outcome:
    scheduler = ctx.emulator.client("scheduler")
    name = ctx.name("Name")
    try:
        arn = scheduler.get_schedule_group(Name=name)["Arn"]
        status = "exists"
    except ClientError as e:
        if error_code(e) != "ResourceNotFoundException":
            raise
        request: dict[str, Any] = {"Name": name}
        if ctx.properties.get("Tags"):
            request["Tags"] = [{"Key": k, "Value": v} for k, v in tags_as_map(ctx.properties["Tags"]).items()]
        arn = scheduler.create_schedule_group(**request)["ScheduleGroupArn"]
        status = "created"
    return Outcome(status, Physical(name, {"Arn": arn}))


def provision_schedule(ctx: Context) -> Outcome:
    """A schedule declared in the template; the local runner fires it."""
    scheduler = ctx.emulator.client("scheduler")
    name = ctx.name("Name")
    group = str(ctx.properties.get("GroupName") or "default")
    try:
        arn = scheduler.get_schedule(Name=name, GroupName=group)["Arn"]
        status = "exists"
    except ClientError as e:
        if error_code(e) != "ResourceNotFoundException":
            raise
        request = {k: ctx.properties[k] for k in SCHEDULE_KEYS if k in ctx.properties}
        arn = scheduler.create_schedule(Name=name, GroupName=group, **request)["ScheduleArn"]
        status = "created"
    return Outcome(status, Physical(name, {"Arn": arn}))


# -- SES


def provision_email_identity(ctx: Context) -> Outcome:
    sesv2 = ctx.emulator.client("sesv2")
    identity = str(ctx.properties["EmailIdentity"])
    try:
        sesv2.get_email_identity(EmailIdentity=identity)
        status = "exists"
    except ClientError as e:
        if error_code(e) not in ("NotFoundException", "NotFound"):
            raise
        sesv2.create_email_identity(EmailIdentity=identity)
        status = "created"
    return Outcome(status, Physical(identity, {}))


# -- resources that are not created in the emulator


def describe_function(ctx: Context) -> Outcome:
    name = ctx.name("FunctionName")
    arn = ctx.arn("lambda", f"function:{name}")
    return Outcome("skipped", Physical(name, {"Arn": arn}), "served by cargo lambda watch")


def describe_http_api(ctx: Context) -> Outcome:
    physical = ctx.resolver.register_http_api(ctx.logical_id)
    return Outcome("skipped", physical, f"served by the local runner at {ctx.resolver.api_url}")


def describe_role(ctx: Context) -> Outcome:
    name = ctx.name("RoleName")
    path = str(ctx.properties.get("Path") or "/")
    arn = f"arn:{PARTITION}:iam::{ACCOUNT_ID}:role{path}{name}"
    return Outcome("skipped", Physical(name, {"Arn": arn}), "IAM: nothing to do locally")


def no_local_effect(ctx: Context) -> Outcome:
    return Outcome("skipped", Physical(ctx.name("Name"), {}), "no local effect")


Provisioner = Callable[[Context], Outcome]
PROVISIONERS: dict[str, Provisioner] = {
    "AWS::DynamoDB::Table": provision_table,
    "AWS::SNS::Topic": provision_topic,
    "AWS::SNS::Subscription": provision_subscription,
    "AWS::SQS::Queue": provision_queue,
    "AWS::Scheduler::ScheduleGroup": provision_schedule_group,
    "AWS::Scheduler::Schedule": provision_schedule,
    "AWS::SES::EmailIdentity": provision_email_identity,
    "AWS::Serverless::Function": describe_function,
    "AWS::Lambda::Function": describe_function,
    "AWS::Serverless::HttpApi": describe_http_api,
    "AWS::ApiGatewayV2::Api": describe_http_api,
    "AWS::IAM::Role": describe_role,
    "AWS::IAM::Policy": no_local_effect,
    "AWS::IAM::ManagedPolicy": no_local_effect,
    "AWS::SQS::QueuePolicy": no_local_effect,
    "AWS::SNS::TopicPolicy": no_local_effect,
    "AWS::Lambda::Permission": no_local_effect,
}


# --------------------------------------------------------------------------- outputs


RESERVED_ENV = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY")
PLAIN_ENV_VALUE = re.compile(r"^[A-Za-z0-9_./:@,+=%-]*$")


def env_line(key: str, value: str) -> str:
    """One line that both dotenv parsers and POSIX shells read back as ``value``."""
    if PLAIN_ENV_VALUE.match(value):
        return f"{key}={value}"
    if "'" not in value and "\n" not in value:
        return f"{key}='{value}'"
    raise ProvisionError(f"environment variable {key} has a value that cannot be written safely: {value!r}")


def function_environment(resources: dict[str, dict]) -> dict[str, str]:
    """The union of every function's environment; one name must mean one thing."""
    seen: dict[str, dict[str, list[str]]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] not in FUNCTION_TYPES:
            continue
        variables = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        for key, value in variables.items():
            text = as_text(value, f"{logical_id}.Environment.Variables.{key}")
            seen.setdefault(key, {}).setdefault(text, []).append(logical_id)
    problems = []
    for key, values in seen.items():
        if key in RESERVED_ENV:
            problems.append(f"{key} is set by the local stack; functions must not set it")
        if len(values) > 1:
            detail = "; ".join(f"{v!r} in {', '.join(fns)}" for v, fns in values.items())
            problems.append(f"{key} has different values: {detail}")
    if problems:
        raise ProvisionError("functions disagree on their environment:\n  " + "\n  ".join(problems))
    return {key: next(iter(values)) for key, values in sorted(seen.items())}


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- main


def provision(args: argparse.Namespace) -> int:
    template = load_template(args.template)
    overrides = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ProvisionError(f"--param {item!r}: expected Key=Value")
        overrides[key] = value
    resolver = Resolver(template, args.stack_name, args.region, overrides, args.api_url)
    emulator = Emulator(args.endpoint, args.region)
    emulator.check_reachable()

    resources = with_globals(template)
    active = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }
    # Resources SAM generates (a function's role, the implicit HttpApi) are described in
    # stack.json so that references to them resolve; they are not printed.
    described: dict[str, dict] = {}
    for logical_id, kind in implicit_sam_resources(active).items():
        outcome = PROVISIONERS[kind](Context(emulator, resolver, logical_id, {}))
        resolver.register(logical_id, outcome.physical)
        described[logical_id] = {"Type": kind, "Properties": {}, "PhysicalId": outcome.physical.ref,
                                 "Attributes": outcome.physical.attributes}
    width = max((len(n) for n in active), default=0)
    type_width = max((len(str(r.get("Type", ""))) for r in active.values()), default=0)
    for logical_id in creation_order(active):
        resource = active[logical_id]
        kind = str(resource.get("Type", ""))
        where = f"Resources.{logical_id}"
        properties = resolver.resolve(resource.get("Properties") or {}, f"{where}.Properties")
        provisioner = PROVISIONERS.get(kind)
        if provisioner is None:
            outcome = Outcome("skipped", Physical(f"{args.stack_name}-{logical_id}", {}),
                              "unsupported type, not created locally")
        else:
            try:
                outcome = provisioner(Context(emulator, resolver, logical_id, properties))
            except KeyError as e:
                raise ProvisionError(f"{where}: missing property {e}") from e
            except ClientError as e:
                raise ProvisionError(f"{where}: the emulator refused it: {e}") from e
        resolver.register(logical_id, outcome.physical)
        entry: dict[str, Any] = {"Type": kind, "Properties": properties}
        if resource.get("Metadata"):
            entry["Metadata"] = resolver.resolve(resource["Metadata"], f"{where}.Metadata")
        entry["PhysicalId"] = outcome.physical.ref
        entry["Attributes"] = outcome.physical.attributes
        described[logical_id] = entry
        note = f"  ({outcome.note})" if outcome.note else ""
        print(f"{outcome.status:<8} {logical_id:<{width}}  {kind:<{type_width}}  "
              f"{outcome.physical.ref}{note}")

    outputs = {}
    for name, output in (template.get("Outputs") or {}).items():
        if "Condition" in output and not resolver.condition(output["Condition"]):
            continue
        outputs[name] = resolver.resolve(output, f"Outputs.{name}")

    stack: dict[str, Any] = {
        "AWSTemplateFormatVersion": str(template.get("AWSTemplateFormatVersion", "2010-09-09")),
        "Description": template.get("Description", ""),
        "StackName": args.stack_name,
        "Region": args.region,
        "AccountId": ACCOUNT_ID,
        "Partition": PARTITION,
        "URLSuffix": URL_SUFFIX,
        "EndpointUrl": args.endpoint,
        "ApiUrl": resolver.api_url,
        "Parameters": resolver.parameters,
    }
    if template.get("Conditions"):
        stack["Conditions"] = resolver.conditions()
    stack["Resources"] = described
    stack["Outputs"] = outputs

    environment = function_environment(described)
    environment.update({
        "AWS_ENDPOINT_URL": args.endpoint,
        "AWS_REGION": args.region,
        "AWS_DEFAULT_REGION": args.region,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    })
    env_text = "".join(env_line(k, v) + "\n" for k, v in environment.items())

    args.out_dir.mkdir(parents=True, exist_ok=True)
    stack_path = args.out_dir / "stack.json"
    env_path = args.out_dir / "functions.env"
    write_atomically(stack_path, json.dumps(stack, indent=2, default=str) + "\n")
    write_atomically(env_path, "# Written by localstack/provision.py from template.yaml.\n" + env_text)
    print(f"wrote {display_path(stack_path)} and {display_path(env_path)}")
    return 0


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", type=Path, default=PROJECT_ROOT / "template.yaml")
    parser.add_argument("--stack-name", default=DEFAULT_STACK,
                        help=f"names resources without a name property (default {DEFAULT_STACK})")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                        help="override a template parameter (repeatable)")
    parser.add_argument("--api-url", default=os.environ.get("LOCAL_API_URL") or DEFAULT_API_URL,
                        help="where the local runner serves the HttpApis "
                             f"(env LOCAL_API_URL, default {DEFAULT_API_URL})")
    parser.add_argument("--out-dir", type=Path, default=PROJECT_ROOT / ".local")
    args = parser.parse_args(argv)
    args.endpoint = os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_ENDPOINT
    args.region = os.environ.get("AWS_REGION") or DEFAULT_REGION
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        return provision(args)
    except ProvisionError as e:
        print(f"provision: {e}", file=sys.stderr)
        return 1
    except BotoCoreError as e:
        print(f"provision: the AWS emulator at {args.endpoint} failed: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
