"""Probes how closely an emulator behaves like AWS where this project depends on it, and
prints one line per behaviour. Used to choose the local engine (see README, "Engine").

    AWS_ENDPOINT_URL=http://127.0.0.1:4566 python localstack/fidelity.py

Each probe makes its own uniquely named resources. A function's invocations are sent to a
small HTTP server of this script (MiniStack's MINISTACK_LAMBDA_PROXY_URL), so Scheduler
firing and SQS event source mappings are observed without Docker."""

import io
import json
import os
import sys
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3

sys.path.insert(0, str(Path(__file__).resolve().parent))
import template as tpl  # noqa: E402

REGION = os.environ.get("AWS_REGION", "us-east-1")
RUN = uuid.uuid4().hex[:8]


def client(name):
    return boto3.client(name, region_name=REGION)


class Invocations:
    """What the emulator sent to our proxied function; answers with `reply(event)`."""

    def __init__(self):
        self.events = []
        self.reply = lambda event: {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                event = json.loads(body or b"{}")
                outer.events.append(event)
                answer = json.dumps(outer.reply(event)).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"


def function(invocations):
    zip_bytes = io.BytesIO()
    with zipfile.ZipFile(zip_bytes, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")
    iam = client("iam")
    role = iam.create_role(
        RoleName=f"probe-{RUN}",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "scheduler.amazonaws.com"]},
             "Action": "sts:AssumeRole"}]}),
    )["Role"]["Arn"]
    fn = client("lambda").create_function(
        FunctionName=f"probe-{RUN}", Runtime="provided.al2023", Handler="bootstrap", Role=role,
        Code={"ZipFile": zip_bytes.getvalue()},
        Environment={"Variables": {"MINISTACK_LAMBDA_PROXY_URL": invocations.url}},
    )
    return fn["FunctionArn"], role


def wait_for(condition, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def page_at_limit():
    ddb = client("dynamodb")
    name = f"probe-paging-{RUN}"
    ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "p", "AttributeType": "S"},
                                           {"AttributeName": "s", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "p", "KeyType": "HASH"}, {"AttributeName": "s", "KeyType": "RANGE"}])
    for i in range(4):
        ddb.put_item(TableName=name, Item={"p": {"S": "x"}, "s": {"S": str(i)}})
    page = ddb.query(TableName=name, KeyConditionExpression="p = :p",
                     ExpressionAttributeValues={":p": {"S": "x"}}, Limit=4)
    return "LastEvaluatedKey" in page, "a page ending exactly at Limit has a LastEvaluatedKey (as AWS)"


def sqs_redrive():
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=f"probe-dlq-{RUN}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"probe-q-{RUN}", Attributes={
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})})["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="poison")
    for _ in range(3):
        sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0, WaitTimeSeconds=1)
    moved = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"), 5)
    return moved, "a message received more than maxReceiveCount times moves to the DLQ"


def scheduler_fires(arn, role, invocations):
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
    client("scheduler").create_schedule(
        Name=f"probe-{RUN}", ScheduleExpression=f"at({at})", FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": role, "Input": json.dumps({"probe": RUN})},
        ActionAfterCompletion="DELETE")
    fired = wait_for(lambda: any(e.get("probe") == RUN for e in invocations.events), 20)
    return fired, "a one-time at() schedule invokes its Lambda target (within 20 s)"


def partial_batch_failure(arn, invocations):
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName=f"probe-esm-dlq-{RUN}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName=f"probe-esm-{RUN}", Attributes={
        "VisibilityTimeout": "1",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    invocations.reply = lambda event: {"batchItemFailures": [
        {"itemIdentifier": r["messageId"]} for r in event.get("Records", []) if r.get("body") == "bad"]}
    sqs.send_message_batch(QueueUrl=queue, Entries=[{"Id": "1", "MessageBody": "good"}, {"Id": "2", "MessageBody": "bad"}])
    client("lambda").create_event_source_mapping(
        EventSourceArn=queue_arn, FunctionName=arn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])

    def bodies(body):
        return sum(1 for e in invocations.events for r in e.get("Records", []) if r.get("body") == body)

    in_dlq = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages"), 25)
    ok = in_dlq and bodies("good") == 1 and bodies("bad") >= 2
    return ok, f"only the failed item is retried, then dead-lettered (good seen {bodies('good')}x, bad {bodies('bad')}x)"


def template_deploys():
    cfn = client("cloudformation")
    s3 = client("s3")
    bucket = f"probe-{RUN}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="code.zip", Body=b"PK\x05\x06" + b"\x00" * 18)
    body = json.dumps(tpl.packaged(tpl.load(), bucket, "code.zip"))
    name = f"probe-{RUN}"
    try:
        cfn.create_stack(StackName=name, TemplateBody=body,
                         Parameters=[{"ParameterKey": k, "ParameterValue": "0123456789abcdef"}
                                     for k in ("WebhookSecret", "EwalletApiKey")],
                         Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    except Exception as e:  # the probe reports any refusal as "no"
        return False, f"template.yaml deploys through CloudFormation with the SAM transform ({type(e).__name__})"
    done = wait_for(lambda: not cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"].endswith("IN_PROGRESS"), 60)
    status = cfn.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] if done else "timed out"
    return status == "CREATE_COMPLETE", f"template.yaml deploys through CloudFormation with the SAM transform ({status})"


def main():
    if not os.environ.get("AWS_ENDPOINT_URL"):
        sys.exit("set AWS_ENDPOINT_URL to the emulator")
    invocations = Invocations()
    probes = [page_at_limit, sqs_redrive, template_deploys]
    results = []
    for probe in probes:
        results.append(run(probe))
    try:
        arn, role = function(invocations)
        results.append(run(lambda: scheduler_fires(arn, role, invocations), "scheduler_fires"))
        results.append(run(lambda: partial_batch_failure(arn, invocations), "partial_batch_failure"))
    except Exception as e:  # no Lambda at all
        results.append(("lambda", False, f"a Lambda function can be created ({type(e).__name__}: {e})"))
    for name, ok, what in results:
        print(f"{'yes' if ok else 'NO ':3}  {name:22} {what}")


def run(probe, name=None):
    name = name or probe.__name__
    try:
        ok, what = probe()
    except Exception as e:  # a probe the emulator cannot even run counts as "no"
        ok, what = False, f"failed: {type(e).__name__}: {str(e)[:120]}"
    return name, ok, what


if __name__ == "__main__":
    main()
