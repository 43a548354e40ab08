"""template.yaml as the deploy and the checks see it: decoded by cfn-lint, packaged (each
function's CodeUri pointed at an S3 object, as `sam package` would), transformed by SAM's
own translator, and its dependency graph as cfn-lint builds it."""

import copy
import logging
import os
from pathlib import Path

from cfnlint.decode import decode
from cfnlint.template import Template
import networkx

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
FUNCTION = "AWS::Serverless::Function"


def load(path=TEMPLATE):
    template, errors = decode(str(path))
    if errors:
        raise ValueError(f"{path} does not decode: {errors}")
    return template


def functions(template):
    """(logical id, resource) of every SAM function."""
    return [(name, r) for name, r in template["Resources"].items() if r.get("Type") == FUNCTION]


def binary(resource):
    """The cargo binary a function runs: the one `sam build` (cargo lambda) builds."""
    return resource["Metadata"]["BuildProperties"]["Binary"]


def packaged(template, bucket, key, extra_env=None):
    """A copy whose functions' code is s3://bucket/key, with `extra_env(logical_id,
    resource)` merged into each function's environment."""
    out = copy.deepcopy(template)
    for name, resource in functions(out):
        props = resource["Properties"]
        props["CodeUri"] = f"s3://{bucket}/{key}"
        extra = extra_env(name, resource) if extra_env else {}
        if extra:
            props.setdefault("Environment", {}).setdefault("Variables", {}).update(extra)
    return out


class _NoManagedPolicies:
    """The template names managed policies by ARN only, so nothing needs looking up."""

    def load(self):
        return {}


def transform(template, parameters=None, region="us-east-1"):
    """The plain CloudFormation template SAM makes of `template` (already packaged)."""
    from samtranslator.translator.transform import transform as sam_transform

    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    # Its notes on feature toggles and unpublished usage metrics say nothing about the template.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    return sam_transform(copy.deepcopy(template), parameters or {}, _NoManagedPolicies())


def cycles(cfn_template):
    """Every circular dependency between resources, each as the list of its members."""
    graph = Template("template.yaml", cfn_template, ["us-east-1"]).graph.graph
    return [sorted(cycle) for cycle in networkx.simple_cycles(graph)]
