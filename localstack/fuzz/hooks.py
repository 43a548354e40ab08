"""schemathesis hooks for `localstack/fuzz.sh`: every request carries what its route's
caller would send, so the fuzzer reaches past the authentication.

- internal routes (IAM): SigV4 for execute-api, with the emulator's test credentials;
- the webhook: `X-Ewallet-Signature` over the exact bytes sent, with the current secret
  from Secrets Manager, as the e-wallet signs;
- the e-wallet: the merchant's `X-Api-Key`.

The auth provider only marks a request as one to sign (a placeholder header, which is
what the security scheme names); the signature itself is made by a requests auth hook
once the body is serialised. So a check that strips or spoils the header (`ignored_auth`)
sends exactly that, unsigned."""

import hashlib
import hmac
import json
import os
import time

import botocore.session
import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SIGN_ME = "sign-me"
REGION = os.environ.get("AWS_REGION", "us-east-1")


def tag_of(case):
    tags = case.operation.tags or []
    return tags[0] if tags else ""


def webhook_secret():
    """The current webhook secret, as the webhook reads it (Secrets Manager)."""
    client = botocore.session.get_session().create_client(
        "secretsmanager", region_name=REGION, endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        aws_access_key_id="test", aws_secret_access_key="test")
    value = client.get_secret_value(SecretId=os.environ["WEBHOOK_SECRET_ARN"])["SecretString"]
    return json.loads(value)["current"].encode()


@schemathesis.auth(refresh_interval=60)
class MarkForSigning:
    def get(self, case, ctx):
        return os.environ.get("EWALLET_API_KEY", "")

    def set(self, case, api_key, ctx):
        header = {"internal": ("Authorization", SIGN_ME),
                  "webhook": ("X-Ewallet-Signature", SIGN_ME),
                  "ewallet": ("X-Api-Key", api_key)}.get(tag_of(case))
        if header:
            case.headers = case.headers or {}
            case.headers[header[0]] = header[1]


class SigV4(requests.auth.AuthBase):
    credentials = Credentials("test", "test")

    def __call__(self, r):
        if r.headers.get("Authorization") != SIGN_ME:
            return r
        del r.headers["Authorization"]
        signed = AWSRequest(method=r.method, url=r.url, data=r.body or b"",
                            headers={"content-type": r.headers.get("content-type", "")})
        SigV4Auth(self.credentials, "execute-api", REGION).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date"):
            r.headers[name] = signed.headers[name]
        return r


class WebhookSignature(requests.auth.AuthBase):
    secret = None

    def __call__(self, r):
        if r.headers.get("X-Ewallet-Signature") != SIGN_ME:
            return r
        if WebhookSignature.secret is None:
            WebhookSignature.secret = webhook_secret()
        body = r.body or b""
        body = body.encode() if isinstance(body, str) else body
        timestamp = int(time.time())
        tag = hmac.new(self.secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        r.headers["X-Ewallet-Signature"] = f"t={timestamp},v1={tag}"
        return r


SIGNERS = {"internal": SigV4(), "webhook": WebhookSignature()}


# Rules between fields, or on the deployment, that a schema cannot state; positive cases are
# made to keep them (a negative case keeps its deliberate fault).
def keeps_rules(case):
    from schemathesis import GenerationMode

    meta = case.meta
    return meta is None or meta.generation.mode == GenerationMode.POSITIVE


def keep_rules(case):
    if not keeps_rules(case) or not isinstance(case.body, dict):
        return
    path = case.operation.path
    if path == "/api/internal/v1/users/{userId}/payments" and case.path_parameters:
        # The payment's user is the path's.
        case.body["userId"] = case.path_parameters.get("userId", case.body.get("userId"))
    elif path == "/api/payment/payment-requests":
        # The e-wallet calls back only URLs the merchant registered.
        case.body["notificationUri"] = os.environ["WEBHOOK_URL"]
    elif path == "/api/internal/v1/users/{userId}/emails/send":
        # At most 50 recipients in all.
        to, bcc = case.body.get("to") or [], case.body.get("bcc")
        if isinstance(bcc, list):
            case.body["bcc"] = bcc[: max(0, 50 - len(to))]


@schemathesis.hook
def before_call(context, case, kwargs):
    # Here rather than in `map_case`, which the coverage phase's cases do not pass through.
    keep_rules(case)
    signer = SIGNERS.get(tag_of(case))
    if signer is not None:
        kwargs["auth"] = signer
