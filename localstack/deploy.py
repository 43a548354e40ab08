"""Deploys template.yaml through CloudFormation to a LocalStack-compatible emulator
(MiniStack here, LocalStack for users with Docker), then writes what the local tools need.

    python localstack/deploy.py [--stack-name N] [--param K=V ...] [--lambda-proxy URL]

The template goes as it is, with one change that `sam package` would also make: each
function's CodeUri points at an S3 object in the emulator. With --lambda-proxy (MiniStack)
that object is a placeholder, because MiniStack forwards each invocation to
MINISTACK_LAMBDA_PROXY_URL, set here per function to `cargo lambda watch`'s Invoke URL for
its binary (so hot reload keeps working). Without it, the code is built with
`sam build` and the emulator runs it (LocalStack, in Docker).

Afterwards it writes, under .local/:
  functions.env  the functions' environment as CloudFormation configured it, for
                 `cargo lambda watch --env-file` (API URLs in the emulator's path form)
  stack.env      the stack's outputs (API URLs, table names) for the tests and the README
  stack.json     parameters and resources as deployed (functions' configuration, tables'
                 keys), for the bench
"""

import argparse
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
import template as tpl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STATE = ROOT / ".local"
PROXY_VAR = "MINISTACK_LAMBDA_PROXY_URL"
# An HTTP API's endpoint, as AWS (https://<id>.execute-api.<region>.amazonaws.com) and
# MiniStack (http://<id>.execute-api.localhost:4566) name it.
EXECUTE_API = re.compile(r"https?://([a-z0-9]+)\.execute-api\.[^/\"]+")


def say(message):
    print(f"\033[1m[deploy]\033[0m {message}", flush=True)


def local_url(value, endpoint):
    """`<id>.execute-api.<host>` hosts do not resolve on this machine; the emulator serves
    the same API under its own address at /_aws/execute-api/<id> (as LocalStack does)."""
    return EXECUTE_API.sub(lambda m: f"{endpoint}/_aws/execute-api/{m.group(1)}", value)


def placeholder_zip():
    """Code for functions whose invocations the emulator forwards elsewhere."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        archive.writestr(info, "#!/bin/sh\necho 'served by cargo lambda watch' >&2\nexit 1\n")
    return buffer.getvalue()


def aws(*args):
    subprocess.run(["aws", *args], check=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name", default=os.environ.get("STACK_NAME", "checkout-local"))
    parser.add_argument("--param", action="append", default=[], help="template parameter, Key=Value")
    parser.add_argument("--lambda-proxy", help="forward invocations to this Invoke API (cargo lambda watch)")
    parser.add_argument("--bucket", default="checkout-local-artifacts")
    args = parser.parse_args()

    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        sys.exit("[deploy] AWS_ENDPOINT_URL must name the emulator, e.g. http://127.0.0.1:4566")
    region = os.environ.get("AWS_REGION", "us-east-1")
    STATE.mkdir(exist_ok=True)
    s3 = boto3.client("s3", region_name=region)
    try:
        s3.head_bucket(Bucket=args.bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=args.bucket)

    template = tpl.load()
    if args.lambda_proxy:
        key = "placeholder.zip"
        s3.put_object(Bucket=args.bucket, Key=key, Body=placeholder_zip())
        proxy = args.lambda_proxy.rstrip("/")
        packaged = tpl.packaged(
            template, args.bucket, key,
            lambda _name, fn: {PROXY_VAR: f"{proxy}/2015-03-31/functions/{tpl.binary(fn)}/invocations"},
        )
        template_file = STATE / "packaged.json"
        template_file.write_text(json.dumps(packaged, indent=1))
    else:
        # The emulator runs the code itself: build it as `sam deploy` on AWS would.
        say("sam build (cargo lambda build --release) for every function")
        subprocess.run(["sam", "build", "--beta-features", "--parallel", "false"], check=True, cwd=ROOT)
        template_file = STATE / "packaged.yaml"
        aws("cloudformation", "package", "--template-file", str(ROOT / ".aws-sam/build/template.yaml"),
            "--s3-bucket", args.bucket, "--output-template-file", str(template_file))

    say(f"CloudFormation deploy of template.yaml as stack {args.stack_name}")
    # Through S3, as for AWS: CloudFormation takes at most 51,200 bytes inline.
    deploy = ["cloudformation", "deploy", "--template-file", str(template_file),
              "--s3-bucket", args.bucket,
              "--stack-name", args.stack_name, "--no-fail-on-empty-changeset",
              "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
    if args.param:
        deploy += ["--parameter-overrides", *args.param]
    aws(*deploy)

    cfn = boto3.client("cloudformation", region_name=region)
    stack = cfn.describe_stacks(StackName=args.stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: local_url(o["OutputValue"], endpoint) for o in stack.get("Outputs", [])}

    # One environment for every function: watch takes one env file. Names the template
    # gives two functions must mean the same value.
    lambda_ = boto3.client("lambda", region_name=region)
    dynamodb = boto3.client("dynamodb", region_name=region)
    env = {}
    deployed = {
        "Parameters": {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])},
        "Resources": {},
    }
    resources = cfn.get_paginator("list_stack_resources").paginate(StackName=args.stack_name)
    for page in resources:
        for resource in page["StackResourceSummaries"]:
            kind, physical = resource["ResourceType"], resource["PhysicalResourceId"]
            entry = deployed["Resources"][resource["LogicalResourceId"]] = {"Type": kind, "PhysicalId": physical}
            if kind == "AWS::DynamoDB::Table":
                table = dynamodb.describe_table(TableName=physical)["Table"]
                entry["Properties"] = {k: table[k] for k in ("KeySchema", "AttributeDefinitions")}
            if kind != "AWS::Lambda::Function":
                continue
            config = lambda_.get_function_configuration(FunctionName=physical)
            variables = {
                name: local_url(value, endpoint)
                for name, value in (config.get("Environment") or {}).get("Variables", {}).items()
                if name != PROXY_VAR
            }
            entry["Properties"] = {
                "MemorySize": config.get("MemorySize"),
                "Architectures": config.get("Architectures"),
                "Environment": {"Variables": variables},
            }
            for name, value in variables.items():
                if env.get(name, value) != value:
                    sys.exit(f"[deploy] {name} differs between functions ({env[name]} / {value}); "
                             "watch has one environment for all of them")
                env[name] = value
    (STATE / "stack.json").write_text(json.dumps(deployed, indent=2) + "\n")
    env.update({
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    })
    write_env(STATE / "functions.env", env)
    stack_env = {re.sub(r"(?<!^)(?=[A-Z])", "_", k).upper(): v for k, v in outputs.items()}
    if args.lambda_proxy:
        # Where the tests ask the gate to inject faults (localstack/gate.py).
        stack_env["GATE_URL"] = args.lambda_proxy
    write_env(STATE / "stack.env", stack_env)
    say(f"stack {args.stack_name} is {stack['StackStatus']}; .local/functions.env, stack.env and stack.json written")


def write_env(path, values):
    path.write_text("".join(f"{k}={v}\n" for k, v in sorted(values.items())))


if __name__ == "__main__":
    main()
