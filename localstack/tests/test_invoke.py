"""The cargo lambda workflow (issue 13, item 8): every file in events/ is sent with
`cargo lambda invoke <binary> --data-file <file>` to the running `cargo lambda watch`, and
its answer is checked against EXPECTED below. A file without an entry fails the test.

The samples name fixed ids of the demo user (orders #1 and #3, process 4b1d7c2e-…,
e-wallet request 0b6c4f5e-…, payment request sample-payment-request-0001). The stack
changes them (a checkout, a confirmation), so each sample that needs state gets it written
back with boto3 right before it is sent: the test passes any number of times against the
same stack. Other tests use fresh random users, so the demo user's rows are this test's.

Needs the running stack (`make run`, or `make test` starts one): its names come from the
environment (`.local/functions.env` and `.local/stack.env`, which `localstack/test.sh`
loads) or from those files. Without a stack it is skipped, unless REQUIRE_STACK=1
(as in `make test`), where that is a failure.
"""

import copy
import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
EVENTS = ROOT / "events"

DEMO_USER = "5a2fb4b2-f281-4c64-8bbc-ec3500b40c76"
# Demo order n is uuid5(user, "demo-order-n") (functions/order/src/demo.rs).
ORDER_1 = "78a4989c-3d2a-5d9b-89fa-cf67c3828354"
ORDER_3 = "55405a58-dfcb-5092-b081-930dce006bb5"
SAMPLE_PAYMENT = "3f0c6b8e-2d1a-4e5f-9a7b-6c5d4e3f2a1b"
SAMPLE_PROCESS = "4b1d7c2e-9a3f-5e6d-8c7b-1a2b3c4d5e6f"
SAMPLE_EWALLET_REQUEST = "0b6c4f5e-6a3e-4c1e-9a57-3d1f2f6b9e01"
SAMPLE_CANCEL_REQUEST = "0b6c4f5e-6a3e-4c1e-9a57-3d1f2f6b9e02"
RESOLVE_PAYMENT_KEY = "sample-resolve-payment-0001"
# The e-wallet request of the resolve sample's payment (the sample names only the payment).
RESOLVE_EWALLET_REQUEST = "0b6c4f5e-6a3e-4c1e-9a57-3d1f2f6b9e03"
WEBHOOK_PAYMENT_KEY = "sample-webhook-payment-0001"
WEBHOOK_EXTERNAL_ID = "sample-payment-request-0001"
# The namespaces of shared::ids::PaymentId::for_idempotency_key and shared::fulfilment.
PAYMENT_NAMESPACE = uuid.UUID(int=0x6F1C2A0E9D4B4C3E8A571B2C3D4E5F60)
FULFILMENT_NAMESPACE = uuid.UUID(int=0x0B9E55D24C1F4A8E9D3627C1F0A4B8E3)


# --- what each sample must answer ------------------------------------------------------

def status(code):
    """An API Gateway (payload 2.0) function: the response's statusCode."""
    def check(test, answer):
        test.assertIsInstance(answer, dict, answer)
        test.assertEqual(answer.get("statusCode"), code, answer.get("body", answer))
    check.describe = f"status {code}"
    return check


def answer(expected):
    """A function that answers JSON: every key given here, with this value."""
    def check(test, got):
        if isinstance(expected, dict):
            test.assertIsInstance(got, dict, got)
            test.assertEqual({k: got.get(k) for k in expected}, expected, got)
        else:
            test.assertEqual(got, expected)
    check.describe = f"answer {expected}"
    return check


def report(*keys):
    """A report whose counts depend on what else is in the stack: the keys, as numbers."""
    def check(test, got):
        test.assertIsInstance(got, dict, got)
        for key in keys:
            test.assertIsInstance(got.get(key), int, got)
    check.describe = f"report with {', '.join(keys)}"
    return check


def failures(count):
    """An SQS listener: how many messages of the batch it hands back to the queue."""
    def check(test, got):
        test.assertIsInstance(got, dict, got)
        test.assertEqual(len(got.get("batchItemFailures", [])), count, got)
    check.describe = f"{count} failed message(s)"
    return check


# --- the state a sample needs, written back right before it is sent --------------------

def now_utc():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def demo_order(stack, order_id, **changes):
    """A demo order as the seed wrote it (the test fails if `seed-demo` has not run), with
    its payment and reconciler fields dropped and `changes` applied. The checkout attempt
    is kept, so the next checkout uses a new idempotency key and a new payment."""
    item = stack.dynamodb.get_item(
        TableName=stack.env["ORDERS_TABLE"],
        Key={"userId": {"S": DEMO_USER}, "orderId": {"S": order_id}},
        ConsistentRead=True,
    ).get("Item")
    if item is None:
        raise AssertionError(f"demo order {order_id} is not in the orders table: run seed-demo (stack.sh up does)")
    for field in ("paymentId", "pendingShard", "pendingUntilMs"):
        item.pop(field, None)
    item["updatedAtUtc"] = {"S": now_utc()}
    item.update(changes)
    stack.dynamodb.put_item(TableName=stack.env["ORDERS_TABLE"], Item=item)


def order_created(order_id):
    return lambda stack, event: demo_order(stack, order_id, status={"S": "Created"})


def order_pending(order_id, payment_id):
    # No pendingShard/pendingUntilMs: the sample settles it at once, so the reconciler
    # has nothing to ask the payment service about.
    return lambda stack, event: demo_order(
        stack, order_id, status={"S": "PaymentPending"}, paymentId={"S": payment_id})


def order_settled(order_id, payment_id):
    return lambda stack, event: demo_order(
        stack, order_id, status={"S": "PaymentSuccess"}, paymentId={"S": payment_id})


def sample_process(succeeded):
    """Process 4b1d7c2e-… of demo order #1, every job Queued: a successful payment's
    (Production, Invoice, Notification) or a failed one's (Notification only)."""
    def given(stack, event):
        table = stack.env["PROCESSES_TABLE"]
        # The first write of a process is its payment-result event (the stream publisher
        # sends it to the listeners). It is always the failed payment's, whose only job
        # (Notification) both forms have, so no listener reports a job that is missing.
        try:
            stack.dynamodb.put_item(TableName=table, Item=process_item(False),
                                    ConditionExpression="attribute_not_exists(processId)")
        except stack.dynamodb.exceptions.ConditionalCheckFailedException:
            pass
        stack.dynamodb.put_item(TableName=table, Item=process_item(succeeded))
    return given


def process_item(succeeded):
    now = now_utc()
    jobs = ["Production", "Invoice", "Notification"] if succeeded else ["Notification"]
    detail = {"M": {"productId": {"S": "espresso-machine"}, "productName": {"S": "Espresso Machine"},
                    "unitPrice": {"N": "100.99"}, "quantity": {"N": "1"}}}
    return {
        "processId": {"S": SAMPLE_PROCESS},
        "orderId": {"S": ORDER_1},
        "userId": {"S": DEMO_USER},
        "paymentId": {"S": SAMPLE_PAYMENT},
        "eventType": {"S": "PaymentSucceeded" if succeeded else "PaymentFailed"},
        "outcome": {"S": "PaymentSuccess" if succeeded else "PaymentFailed"},
        "status": {"S": "Pending"},
        "correlationId": {"S": "sample-event-0001"},
        "order": {"M": {"name": {"S": "Amber Espresso Machine #001"}, "totalAmount": {"N": "100.99"},
                        "currency": {"S": "USD"}, "orderDetails": {"L": [detail]}}},
        "jobs": {"M": {job: {"M": {
            "jobId": {"S": str(uuid.uuid5(FULFILMENT_NAMESPACE, f"{SAMPLE_PROCESS}/{job}"))},
            "status": {"S": "Queued"},
            "createdAtUtc": {"S": now},
            "updatedAtUtc": {"S": now},
        }} for job in jobs}},
        "createdAtUtc": {"S": now},
        "updatedAtUtc": {"S": now},
    }


def payment_id_of(key):
    return str(uuid.uuid5(PAYMENT_NAMESPACE, key))


def payment_requested(stack, key, external_id):
    """Payment `key` (100.99 for demo order #1), Requested and bound to its e-wallet id."""
    now = now_utc()
    stack.dynamodb.put_item(TableName=stack.env["PAYMENTS_TABLE"], Item={
        "paymentId": {"S": payment_id_of(key)},
        "externalId": {"S": external_id},
        "userId": {"S": DEMO_USER},
        "orderId": {"S": ORDER_1},
        "amountCents": {"N": "10099"},
        "currency": {"S": "USD"},
        "provider": {"S": "Ewallet"},
        "status": {"S": "Requested"},
        "transactions": {"L": []},
        "idempotencyKey": {"S": key},
        "createdAtUtc": {"S": now},
        "updatedAtUtc": {"S": now},
        "orderConfirmed": {"BOOL": False},
    })


def webhook_payment_requested(stack, event):
    """The payment the webhook samples report on, with demo order #1 waiting for it: a
    SUCCESS pays the order."""
    payment_requested(stack, WEBHOOK_PAYMENT_KEY, WEBHOOK_EXTERNAL_ID)
    order_pending(ORDER_1, payment_id_of(WEBHOOK_PAYMENT_KEY))(stack, event)


def resolve_payment_requested(stack, event):
    """The resolve sample's payment, Requested, and its e-wallet request Pending: resolving
    cancels it at the e-wallet and records Failed."""
    ewallet_request(RESOLVE_EWALLET_REQUEST, "https://shop.example.com/hook")(stack, event)
    payment_requested(stack, RESOLVE_PAYMENT_KEY, RESOLVE_EWALLET_REQUEST)


def signed_now(stack, event):
    """A signature is valid for 5 minutes, so `signed-*` samples are signed again over
    their exact body with the stack's secret (events/payment-webhook/README.md)."""
    stamp = int(time.time())
    body = event.get("body") or ""
    tag = hmac.new(stack.webhook_secret().encode(), f"{stamp}.{body}".encode(), hashlib.sha256)
    event = copy.deepcopy(event)
    event["headers"]["x-ewallet-signature"] = f"t={stamp},v1={tag.hexdigest()}"
    return event


def registered_notification_uri(stack, event):
    """The e-wallet accepts only the merchant's registered webhook URLs, which are the
    stack's (EWALLET_WEBHOOK_URLS); the sample's is the one of a default `make run`."""
    body = json.loads(event["body"])
    body["notificationUri"] = stack.env["EWALLET_WEBHOOK_URLS"].split(",")[0]
    event = copy.deepcopy(event)
    event["body"] = json.dumps(body)
    return event


def ewallet_request(request_id, notification_uri=None):
    """E-wallet request `request_id` (100.99: SUCCESS), Pending and due, with its webhook
    going to `notification_uri`, by default this test's receiver rather than the stack."""
    return lambda stack, event: put_ewallet_request(stack, request_id, notification_uri or stack.receiver.url)


def put_ewallet_request(stack, request_id, notification_uri):
    now = now_utc()
    stack.dynamodb.put_item(TableName=stack.env["EWALLET_REQUESTS_TABLE"], Item={
        "paymentRequestId": {"S": request_id},
        "amountCents": {"N": "10099"},
        "currency": {"S": "USD"},
        "notificationUri": {"S": notification_uri},
        "orderId": {"S": str(uuid.uuid4())},
        "status": {"S": "Pending"},
        "correlationId": {"S": "sample-event-0001"},
        "scheduled": {"BOOL": True},
        "dueAt": {"S": now},
        "createdAtUtc": {"S": now},
        "updatedAtUtc": {"S": now},
        "attempts": {"N": "0"},
        # DynamoDB's TTL removes it a day later.
        "expiresAt": {"N": str(int(time.time()) + 86400)},
    })


def process_back_to_succeeded(test, stack):
    # The publisher sample sends a PaymentSucceeded event for this process to the real
    # listeners, which report Production and Invoice on it: those jobs must be there.
    sample_process(succeeded=True)(stack, None)


def webhook_received_once(test, stack):
    test.assertEqual(len(stack.receiver.posts), 1, stack.receiver.posts)
    test.assertIn("x-ewallet-signature", stack.receiver.posts[0])


def payment_status_is(key, expected):
    def then(test, stack):
        item = stack.dynamodb.get_item(
            TableName=stack.env["PAYMENTS_TABLE"], Key={"paymentId": {"S": payment_id_of(key)}},
            ConsistentRead=True,
        )["Item"]
        test.assertEqual(item["status"]["S"], expected)
    return then


def order_status_is(order_id, expected):
    def then(test, stack):
        item = stack.dynamodb.get_item(
            TableName=stack.env["ORDERS_TABLE"],
            Key={"userId": {"S": DEMO_USER}, "orderId": {"S": order_id}},
            ConsistentRead=True,
        )["Item"]
        test.assertEqual(item["status"]["S"], expected)
    return then


# How deep in the call chain a function calls others through the stack (absent: 0, it
# calls none of them).
CALL_DEPTH = {
    "payment-request": 1, "payment-webhook": 1, "payment-resolve": 1,
    "production-listener": 1, "invoice-listener": 1, "notification-listener": 1,
    "order-checkout": 2, "order-reconciler": 2,
}


class Sample:
    def __init__(self, expect, given=(), then=()):
        self.expect = expect
        # Each `given` writes state, or returns the event to send instead of the file's.
        self.given = given if isinstance(given, tuple) else (given,)
        # Each `then` checks or restores state after the answer was checked.
        self.then = then if isinstance(then, tuple) else (then,)


EXPECTED = {
    "order-search/search-by-name.json": Sample(status(200)),
    "order-search/bad-page-size.json": Sample(status(400)),
    "order-search/malformed-user-id.json": Sample(status(400)),
    "order-get/demo-order.json": Sample(status(200)),
    "order-get/unknown-order.json": Sample(status(404)),
    "order-get/malformed-order-id.json": Sample(status(400)),
    "order-get/public-demo-order.json": Sample(status(200)),
    "web/page.json": Sample(status(200)),
    "web/script.json": Sample(status(200)),
    "web/unknown-asset.json": Sample(status(404)),
    # Demo order #3 (100.99): the whole flow runs on from here, ending in PaymentSuccess.
    "order-checkout/ewallet.json": Sample(status(202), order_created(ORDER_3)),
    "order-checkout/unknown-provider.json": Sample(status(400)),
    "order-checkout/malformed-body.json": Sample(status(400)),
    "order-confirm-payment/confirmed.json": Sample(status(200), order_pending(ORDER_1, SAMPLE_PAYMENT),
                                                   then=order_status_is(ORDER_1, "PaymentSuccess")),
    # Settled with the sample payment: a confirmation of another one is a conflict.
    "order-confirm-payment/other-payment.json": Sample(status(409), order_settled(ORDER_1, SAMPLE_PAYMENT)),
    "order-confirm-payment/missing-payment-id.json": Sample(status(400)),
    "order-process-status/job-completed.json": Sample(status(200), sample_process(succeeded=True)),
    # The failed payment's process has no Production job.
    "order-process-status/unknown-job.json": Sample(status(404), sample_process(succeeded=False),
                                                    then=process_back_to_succeeded),
    "order-process-status/queued-is-not-a-report.json": Sample(status(400)),
    "order-process-status/malformed-process-id.json": Sample(status(400)),
    "order-payment-results-publisher/process-inserted.json": Sample(answer(1)),
    "order-payment-results-publisher/job-changed.json": Sample(answer(0)),
    # Settles whatever is overdue in the whole stack at that moment: only the report's shape.
    "order-reconciler/scheduled-run.json": Sample(report("overdue", "confirmed", "madePayable", "moved", "left")),
    "payment-request/request-payment.json": Sample(status(201)),
    "payment-request/missing-idempotency-key.json": Sample(status(400)),
    "payment-request/user-mismatch.json": Sample(status(400)),
    "payment-request/zero-amount.json": Sample(status(400)),
    "payment-webhook/signed-success.json": Sample(status(200), (webhook_payment_requested, signed_now),
                                                  then=order_status_is(ORDER_1, "PaymentSuccess")),
    "payment-webhook/signed-malformed-body.json": Sample(status(400), signed_now),
    "payment-webhook/unsigned.json": Sample(status(401)),
    "payment-webhook/stale-signature.json": Sample(status(401)),
    "notification-send-email/send.json": Sample(status(200)),
    "notification-send-email/bad-address.json": Sample(status(400)),
    "notification-send-email/missing-idempotency-key.json": Sample(status(400)),
    "notification-send-email/malformed-user-id.json": Sample(status(400)),
    "production-listener/success.json": Sample(failures(0), sample_process(succeeded=True)),
    "production-listener/poison-in-batch.json": Sample(failures(1), sample_process(succeeded=True)),
    "invoice-listener/success.json": Sample(failures(0), sample_process(succeeded=True)),
    "invoice-listener/poison-in-batch.json": Sample(failures(1), sample_process(succeeded=True)),
    "notification-listener/success.json": Sample(failures(0), sample_process(succeeded=True)),
    # A listener needs only its job in the process; the failed payment's process is left
    # to unknown-job.json alone (see process_back_to_succeeded).
    "notification-listener/failure.json": Sample(failures(0), sample_process(succeeded=True)),
    "notification-listener/poison-in-batch.json": Sample(failures(1), sample_process(succeeded=True)),
    "production-mock/production-request.json": Sample(status(200)),
    "production-mock/missing-idempotency-key.json": Sample(status(400)),
    "production-mock/malformed-body.json": Sample(status(400)),
    "invoice-mock/invoice-request.json": Sample(status(200)),
    "invoice-mock/missing-idempotency-key.json": Sample(status(400)),
    "invoice-mock/malformed-body.json": Sample(status(400)),
    # 201 starts a real request whose webhook the stack's receiver refuses (its
    # merchant reference is no payment of ours): nothing else changes.
    "ewallet-payment-request/amount-ending-99.json": Sample(status(201), registered_notification_uri),
    "ewallet-payment-request/amount-ending-11.json": Sample(status(201), registered_notification_uri),
    "ewallet-payment-request/negative-amount.json": Sample(status(400)),
    "ewallet-payment-request/ftp-notification-uri.json": Sample(status(400)),
    "ewallet-payment-request/malformed-order-id.json": Sample(status(400)),
    "ewallet-payment-request/missing-api-key.json": Sample(status(401)),
    "ewallet-refund/unknown-request.json": Sample(status(404)),
    "ewallet-refund/missing-api-key.json": Sample(status(401)),
    "ewallet-webhook-dispatcher/dispatch-webhook.json": Sample(
        answer({"result": "delivered", "statusCode": "SUCCESS"}), ewallet_request(SAMPLE_EWALLET_REQUEST),
        then=webhook_received_once),
    "ewallet-webhook-dispatcher/unknown-payment-request.json": Sample(answer({"result": "unknown"})),
    "ewallet-webhook-dispatcher/malformed.json": Sample(answer({"result": "malformed"})),
    "ewallet-cancel/cancel-pending-request.json": Sample(
        status(200), ewallet_request(SAMPLE_CANCEL_REQUEST, "https://shop.example.com/hook")),
    "ewallet-cancel/unknown-request.json": Sample(status(404)),
    "ewallet-cancel/missing-api-key.json": Sample(status(401)),
    "payment-resolve/resolve-requested-payment.json": Sample(
        status(200), resolve_payment_requested, then=payment_status_is(RESOLVE_PAYMENT_KEY, "Failed")),
    "payment-resolve/unknown-payment.json": Sample(status(404)),
    "payment-resolve/malformed-payment-id.json": Sample(status(400)),
}


def sample_files():
    """Every event file, as `<binary>/<file>.json` (READMEs beside them are not events)."""
    return sorted(str(p.relative_to(EVENTS)) for p in EVENTS.glob("*/*.json"))


# --- the stack --------------------------------------------------------------------------

def stack_env():
    """The stack's names: the environment first, else .local/*.env of this work tree."""
    env = {}
    for name in ("functions.env", "stack.env"):
        path = ROOT / ".local" / name
        if path.exists():
            for line in path.read_text().splitlines():
                key, sep, value = line.partition("=")
                if sep and not key.startswith("#"):
                    env[key.strip()] = value.strip()
    env.update(os.environ)
    return env


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Receiver:
    """Stands in for a merchant's webhook endpoint: answers 200 and keeps the headers."""

    def __init__(self):
        self.posts = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("content-length", 0)))
                outer.posts.append({k.lower(): v for k, v in self.headers.items()})
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook"


class Stack:
    """The running stack's names, a DynamoDB client and a webhook receiver."""

    def __init__(self, env):
        self.env = env
        self.port = int(env.get("INVOKE_PORT", "9000"))
        self.dynamodb = self.client("dynamodb")
        self.receiver = Receiver()

    def webhook_secret(self):
        """WEBHOOK_SECRET itself, or the current one of the Secrets Manager secret that
        WEBHOOK_SECRET_ARN names ({"current": ..., "previous": ...})."""
        if "WEBHOOK_SECRET" in self.env:
            return self.env["WEBHOOK_SECRET"]
        secrets = self.client("secretsmanager")
        stored = secrets.get_secret_value(SecretId=self.env["WEBHOOK_SECRET_ARN"])["SecretString"]
        return json.loads(stored)["current"]

    def client(self, service):
        import boto3

        return boto3.client(
            service, endpoint_url=self.env["AWS_ENDPOINT_URL"], region_name=self.env.get("AWS_REGION", "us-east-1"),
            aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID", "test"),
            aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY", "test"))


def cargo_lambda_invoke(binary, data_file, port, env):
    """Exactly what a developer types; the answer as JSON, or the error's text."""
    command = ["cargo", "lambda", "invoke", binary, "--data-file", str(data_file),
               "--invoke-address", "127.0.0.1", "--invoke-port", str(port), "--output-format", "json"]
    # Generous: watch compiles a binary on its first invocation if it is not built yet.
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    if done.returncode != 0:
        return None, f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
    return json.loads(done.stdout), None


class EveryEventFile(unittest.TestCase):
    def test_every_event_file_has_an_expected_outcome_and_every_entry_a_file(self):
        files = sample_files()
        self.assertEqual([f for f in files if f not in EXPECTED], [],
                         "event files without an entry in EXPECTED (localstack/tests/test_invoke.py)")
        self.assertEqual([f for f in EXPECTED if f not in files], [], "entries without a file in events/")


class CargoLambdaInvoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        env = stack_env()
        # cargo finds the `lambda` subcommand on PATH: the project's .venv has it.
        env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        port = int(env.get("INVOKE_PORT", "9000"))
        missing = [k for k in ("AWS_ENDPOINT_URL", "ORDERS_TABLE") if k not in env]
        reason = None
        if missing:
            reason = f"no stack: {', '.join(missing)} not set and no .local/*.env"
        elif not listening(port):
            reason = f"cargo lambda watch is not listening on 127.0.0.1:{port}"
        elif shutil.which("cargo-lambda", path=env["PATH"]) is None:
            reason = "cargo-lambda is not installed (bash localstack/stack.sh install)"
        if reason:
            if env.get("REQUIRE_STACK") == "1":
                raise AssertionError(reason)
            raise unittest.SkipTest(reason)
        cls.env = env
        cls.stack = Stack(env)
        cls.scratch = tempfile.TemporaryDirectory(prefix="invoke-")

    @classmethod
    def tearDownClass(cls):
        cls.stack.receiver.server.shutdown()
        cls.stack.receiver.server.server_close()
        cls.scratch.cleanup()

    def test_every_event_file_gets_its_expected_outcome_from_cargo_lambda_invoke(self):
        # Callees first: watch starts each function with `cargo run` on its first call,
        # one at a time (cargo's lock), so a caller's first call to a cold callee can run
        # past the caller's client timeout on a fresh stack.
        for name in sorted(sample_files(), key=lambda n: (CALL_DEPTH.get(n.split("/")[0], 0), n)):
            sample = EXPECTED.get(name)
            if sample is None:
                continue  # reported by the test above
            with self.subTest(sample=name):
                self.stack.receiver.posts.clear()
                path = EVENTS / name
                event = json.loads(path.read_text())
                for given in sample.given:
                    changed = given(self.stack, event)
                    if changed is not None:
                        event = changed
                if event != json.loads(path.read_text()):
                    path = Path(self.scratch.name) / name.replace("/", "--")
                    path.write_text(json.dumps(event))
                binary = name.split("/")[0]
                got, error = cargo_lambda_invoke(binary, path, self.stack.port, self.env)
                if error:
                    self.fail(f"{name}: expected {sample.expect.describe}, the invocation failed: {error}")
                sample.expect(self, got)
                for then in sample.then:
                    then(self, self.stack)


if __name__ == "__main__":
    unittest.main()
