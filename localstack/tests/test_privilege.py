"""Least privilege, read from the template as CloudFormation receives it (after SAM's
transform, so SAM's own policy templates and managed policies are seen too): each function
may do exactly what its code does, on exactly the resources it uses.

The expectations below are the security review's record of what each function's code calls
(DynamoDB operations via shared::store and the adapters, internal routes via each
service's HTTP client). A template that grants more, or a function with no entry, fails."""

import os
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import template as tpl  # noqa: E402

# As dev and prod deploy it (SafeReleases changes no function role, but the check sees them all).
PARAMETERS = {"WebhookSecret": "0123456789abcdef", "EwalletApiKey": "0123456789abcdef", "SafeReleases": "true"}


def route(method, path):
    return f"route:{method} {path}"


READ_WRITE = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
RECONCILER_QUEUE = "OrderReconcilerFailuresQueue"

# function -> {(action, resource)}; a resource is a logical id, `Table/index/Name`,
# `Table/stream/*`, or an internal route.
EXPECTED = {
    "OrderSearchFunction": {("dynamodb:Query", "OrdersTable"), ("dynamodb:BatchGetItem", "ProcessesTable")},
    "OrderGetFunction": {("dynamodb:GetItem", "OrdersTable"), ("dynamodb:GetItem", "ProcessesTable")},
    "OrderCheckoutFunction": {
        ("dynamodb:GetItem", "OrdersTable"), ("dynamodb:UpdateItem", "OrdersTable"),
        ("execute-api:Invoke", route("POST", "/api/internal/v1/users/*/payments")),
    },
    "OrderConfirmPaymentFunction": {
        ("dynamodb:GetItem", "OrdersTable"), ("dynamodb:UpdateItem", "OrdersTable"),
        ("dynamodb:PutItem", "ProcessesTable"),
    },
    "OrderReconcilerFunction": {
        ("dynamodb:GetItem", "OrdersTable"), ("dynamodb:UpdateItem", "OrdersTable"),
        ("dynamodb:Query", "OrdersTable/index/byPendingDeadline"),
        ("dynamodb:PutItem", "ProcessesTable"),
        ("sqs:SendMessage", RECONCILER_QUEUE),
        ("execute-api:Invoke", route("POST", "/api/internal/v1/payments/*/resolve")),
    },
    "OrderProcessStatusFunction": {("dynamodb:GetItem", "ProcessesTable"), ("dynamodb:UpdateItem", "ProcessesTable")},
    "OrderPaymentResultsPublisherFunction": {
        ("sns:Publish", "PaymentResultsTopic"),
        ("sqs:SendMessage", "PaymentResultsPublisherFailureQueue"),
        *{(a, "ProcessesTable/stream/*") for a in (
            "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams")},
    },
    "PaymentRequestFunction": {(a, "PaymentsTable") for a in READ_WRITE},
    "PaymentResolveFunction": {("dynamodb:GetItem", "PaymentsTable"), ("dynamodb:UpdateItem", "PaymentsTable")},
    "PaymentWebhookFunction": {
        ("dynamodb:GetItem", "PaymentsTable"), ("dynamodb:UpdateItem", "PaymentsTable"),
        ("dynamodb:Query", "PaymentsTable/index/byExternalId"),
        ("execute-api:Invoke", route("POST", "/api/internal/v1/users/*/orders/*/confirm-payment")),
        ("secretsmanager:GetSecretValue", "WebhookSecretStore"),
    },
    "EwalletPaymentRequestFunction": {
        *{(a, "EwalletRequestsTable") for a in READ_WRITE},
        ("scheduler:CreateSchedule", "EwalletScheduleGroup/*"),
        ("iam:PassRole", "EwalletSchedulerRole"),
    },
    "EwalletCancelFunction": {("dynamodb:GetItem", "EwalletRequestsTable"), ("dynamodb:UpdateItem", "EwalletRequestsTable")},
    "EwalletRefundFunction": {("dynamodb:GetItem", "EwalletRequestsTable"), ("dynamodb:UpdateItem", "EwalletRequestsTable")},
    "EwalletWebhookDispatcherFunction": {
        ("dynamodb:GetItem", "EwalletRequestsTable"), ("dynamodb:UpdateItem", "EwalletRequestsTable"),
        ("sqs:SendMessage", "EwalletDispatchFailuresQueue"),
        ("secretsmanager:GetSecretValue", "WebhookSecretStore"),
    },
    **{
        f"{job}ListenerFunction": {
            ("execute-api:Invoke", route("POST", path)),
            ("execute-api:Invoke", route("POST", "/api/internal/v1/orderprocesses/*/status")),
            *{(a, f"{job}Queue") for a in (
                "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")},
        }
        for job, path in (
            ("Production", "/api/internal/v1/productions"),
            ("Invoice", "/api/internal/v1/invoices"),
            ("Notification", "/api/internal/v1/users/*/emails/send"),
        )
    },
    "ProductionMockFunction": {("dynamodb:GetItem", "ProductionsTable"), ("dynamodb:PutItem", "ProductionsTable")},
    "InvoiceMockFunction": {("dynamodb:GetItem", "InvoicesTable"), ("dynamodb:PutItem", "InvoicesTable")},
    # Serves files compiled into its binary: no AWS call at all.
    "WebFunction": set(),
    "NotificationSendEmailFunction": {
        *{(a, "EmailLogTable") for a in READ_WRITE},
        ("ses:SendEmail", "SenderIdentity"),
    },
}

# Only CloudWatch Logs (and X-Ray, when tracing is on) come from AWS managed policies.
ALLOWED_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


def resource_name(resource, api_ids):
    """A statement's resource as a name: the logical id it points at, with a suffix for
    an index, a stream or a schedule group's schedules, or the internal route it allows."""
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return resource["Fn::GetAtt"][0]
    if isinstance(resource, dict) and "Ref" in resource:
        return resource["Ref"]
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        api = re.search(r"\$\{(\w+)\}/\*/(GET|POST|PUT|DELETE|PATCH)(/.*)$", text)
        if "execute-api" in text and api and api.group(1) in api_ids:
            return route(api.group(2), api.group(3))
        if "execute-api" in text:
            return f"unscoped:{text}"
        named = re.fullmatch(r"\$\{(\w+)\.Arn\}(/.*)", text)
        if named:
            return named.group(1) + named.group(2)
        group = re.search(r"schedule/\$\{(\w+)\}/\*$", text)
        if group:
            return f"{group.group(1)}/*"
        identity = re.search(r":ses:.*:identity/\$\{(\w+)\}$", text)
        if identity:
            return identity.group(1)
    return f"unknown:{resource}"


def grants(cfn, function):
    """{(action, resource)} of the function's role, and its managed policies."""
    role = cfn["Resources"][f"{function}Role"]["Properties"]
    api_ids = {n for n, r in cfn["Resources"].items() if r["Type"] == "AWS::ApiGatewayV2::Api"}
    pairs = set()
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow", statement
            actions = statement["Action"]
            actions = [actions] if isinstance(actions, str) else actions
            resources = statement["Resource"]
            resources = resources if isinstance(resources, list) else [resources]
            for action in actions:
                for resource in resources:
                    pairs.add((action, resource_name(resource, api_ids)))
    return pairs, set(role.get("ManagedPolicyArns", []))


class LeastPrivilege(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sam = tpl.load(os.environ.get("TEMPLATE", tpl.TEMPLATE))
        cls.cfn = tpl.transform(tpl.packaged(cls.sam, "bucket", "code.zip"), PARAMETERS)
        cls.functions = [name for name, _ in tpl.functions(cls.sam)]

    def test_every_function_has_its_expected_grants(self):
        missing = sorted(set(self.functions) - set(EXPECTED))
        self.assertEqual(missing, [], "functions without an entry in EXPECTED")

    def test_each_function_may_do_exactly_what_its_code_does(self):
        for function in self.functions:
            with self.subTest(function=function):
                pairs, _ = grants(self.cfn, function)
                extra = sorted(pairs - EXPECTED.get(function, set()))
                lacking = sorted(EXPECTED.get(function, set()) - pairs)
                self.assertEqual(extra, [], "granted beyond what the code uses")
                self.assertEqual(lacking, [], "used by the code but not granted")

    def test_no_function_may_scan_delete_or_batch_write_or_use_a_wildcard(self):
        for function in self.functions:
            pairs, managed = grants(self.cfn, function)
            for action, resource in pairs:
                with self.subTest(function=function, action=action):
                    self.assertNotIn(action, {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"})
                    self.assertFalse(action.endswith("*") and action != "sqs:SendMessage*", action)
                    self.assertNotEqual(resource, "*")
                    self.assertFalse(resource.startswith(("unscoped:", "unknown:")), resource)
            with self.subTest(function=function, managed=True):
                self.assertEqual(managed - ALLOWED_MANAGED, set(), "managed policies reach any resource")

    def test_the_check_catches_a_function_that_may_call_every_internal_route(self):
        broad = {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${InternalApi}/*"}
        self.assertTrue(resource_name(broad, {"InternalApi"}).startswith("unscoped:"))
        one = {"Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${InternalApi}/*/POST/api/internal/v1/users/*/payments"}
        self.assertEqual(resource_name(one, {"InternalApi"}), route("POST", "/api/internal/v1/users/*/payments"))


if __name__ == "__main__":
    unittest.main()
