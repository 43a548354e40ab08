"""template.yaml, after SAM's transform, is what CloudFormation receives: it must have no
circular dependency (cfn-lint and `sam validate --lint` do not catch one that the
transform creates)."""

import os
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import template as tpl  # noqa: E402

PARAMETERS = {"WebhookSecret": "0123456789abcdef", "EwalletApiKey": "0123456789abcdef"}


class TransformedTemplate(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # TEMPLATE=<file> checks another template (e.g. an older one) with the same tests.
        cls.sam = tpl.load(os.environ.get("TEMPLATE", tpl.TEMPLATE))
        cls.cfn = tpl.transform(tpl.packaged(cls.sam, "bucket", "code.zip"), PARAMETERS)

    def test_the_transformed_template_has_no_circular_dependency(self):
        self.assertEqual(tpl.cycles(self.cfn), [])

    def test_the_check_finds_the_loop_that_sam_httpapi_events_made(self):
        # The shape of the old template: each function is routed by one HttpApi (SAM puts
        # the route into the API's OpenAPI body) and names the other API's URL.
        def function(api, other):
            return {
                "Type": tpl.FUNCTION,
                "Metadata": {"BuildProperties": {"Binary": "b"}},
                "Properties": {
                    "CodeUri": ".", "Handler": "bootstrap", "Runtime": "provided.al2023",
                    "Environment": {"Variables": {"URL": {"Fn::Sub": "https://${%s}.example" % other}}},
                    "Events": {"Call": {"Type": "HttpApi", "Properties": {
                        "ApiId": {"Ref": api}, "Method": "GET", "Path": "/x"}}},
                },
            }
        sam = {
            "Transform": "AWS::Serverless-2016-10-31",
            "Resources": {
                "ApiA": {"Type": "AWS::Serverless::HttpApi"},
                "ApiB": {"Type": "AWS::Serverless::HttpApi"},
                "FnA": function("ApiA", "ApiB"),
                "FnB": function("ApiB", "ApiA"),
            },
        }
        cfn = tpl.transform(tpl.packaged(sam, "bucket", "code.zip"))
        self.assertIn(["ApiA", "ApiB", "FnA", "FnB"], tpl.cycles(cfn))

    def test_every_function_names_the_binary_it_runs(self):
        for name, resource in tpl.functions(self.sam):
            with self.subTest(function=name):
                self.assertTrue(tpl.binary(resource))

    def test_every_function_is_traced_and_logs_to_its_own_group_with_a_retention(self):
        resources = self.cfn["Resources"]
        for name, _ in tpl.functions(self.sam):
            with self.subTest(function=name):
                props = resources[name]["Properties"]
                self.assertEqual(props["TracingConfig"], {"Mode": "Active"})
                group = props["LoggingConfig"]["LogGroup"]["Ref"]
                self.assertEqual(props["LoggingConfig"]["LogFormat"], "JSON")
                self.assertEqual(resources[group]["Type"], "AWS::Logs::LogGroup")
                self.assertIn("RetentionInDays", resources[group]["Properties"])

    def test_every_dead_letter_and_failure_queue_has_an_alarm(self):
        resources = self.cfn["Resources"]
        alarmed = set()
        for resource in resources.values():
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                for dimension in resource["Properties"].get("Dimensions", []):
                    value = dimension["Value"]
                    if isinstance(value, dict) and "Fn::GetAtt" in value:
                        alarmed.add(value["Fn::GetAtt"][0])
        queues = {n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"
                  and ("DeadLetter" in n or "Failure" in n)}
        self.assertTrue(queues)
        self.assertEqual(sorted(queues - alarmed), [])

    def test_prod_deploys_no_mock_and_points_at_the_real_providers(self):
        prod = dict(PARAMETERS, DeployMocks="no", EwalletProviderUrl="https://wallet.example",
                    ProductionProviderUrl="https://production.example", InvoiceProviderUrl="https://invoices.example")
        cfn = tpl.transform(tpl.packaged(self.sam, "bucket", "code.zip"), prod)
        conditions = cfn["Conditions"]
        self.assertEqual(conditions["DeployMocks"], {"Fn::Equals": [{"Ref": "DeployMocks"}, "yes"]})
        mocks = sorted(n for n, r in cfn["Resources"].items() if r.get("Condition") == "DeployMocks")
        for name in ("EwalletApi", "EwalletRequestsTable", "EwalletWebhookDispatcherFunction",
                     "EwalletWebhookDispatcherFunctionRole", "ProductionMockFunction", "InvoiceMockFunction",
                     "ProductionsTable", "InvoicesTable"):
            self.assertIn(name, mocks)
        # Nothing that stays may need a mock: every reference to one is behind the condition.
        for name, resource in cfn["Resources"].items():
            if resource.get("Condition") == "DeployMocks":
                continue
            with self.subTest(resource=name):
                text = str(resource)
                for mock in mocks:
                    for ref in (f"'Ref': '{mock}'", f"'Fn::GetAtt': ['{mock}'", "${" + mock + "."):
                        if ref in text:
                            self.assertIn("Fn::If", text, f"{name} needs {mock} unconditionally")

    def test_with_safe_releases_every_function_but_the_mocks_moves_by_canary_and_rolls_back_on_its_alarms(self):
        cfn = tpl.transform(tpl.packaged(self.sam, "bucket", "code.zip"), dict(PARAMETERS, SafeReleases="true"))
        resources = cfn["Resources"]
        for name, resource in tpl.functions(self.sam):
            mock = resource.get("Condition") == "DeployMocks"
            with self.subTest(function=name):
                self.assertEqual(f"{name}Aliaslive" in resources, not mock)
                self.assertEqual(f"{name}DeploymentGroup" in resources, not mock)
                if mock:
                    continue
                alias = resources[f"{name}Aliaslive"]
                self.assertEqual(alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"],
                                 {"Ref": f"{name}DeploymentGroup"})
                group = resources[f"{name}DeploymentGroup"]["Properties"]
                self.assertEqual(group["DeploymentConfigName"]["Fn::Sub"][1]["ConfigName"], "Canary10Percent5Minutes")
                self.assertIn("DEPLOYMENT_STOP_ON_ALARM", group["AutoRollbackConfiguration"]["Events"])
                alarms = [a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]]
                # The function's own errors on the live alias are always among them.
                errors = [a for a in alarms
                          if resources[a]["Properties"].get("MetricName") == "Errors"
                          and {"Name": "FunctionName", "Value": {"Ref": name}} in resources[a]["Properties"]["Dimensions"]]
                self.assertEqual(len(errors), 1, alarms)

    def test_every_routed_function_also_rolls_back_on_its_apis_share_of_5xx(self):
        # An HTTP function that answers 500 has not failed in Lambda's eyes: its API's 5xx
        # share is what shows a bad release.
        resources = self.sam["Resources"]
        apis = {}
        for resource in resources.values():
            if resource["Type"] == "AWS::ApiGatewayV2::Integration":
                uri = resource["Properties"]["IntegrationUri"]
                function = uri["Ref"].removesuffix(".Alias") if "Ref" in uri else uri["Fn::GetAtt"][0]
                apis.setdefault(function, set()).add(resource["Properties"]["ApiId"]["Ref"])
        routed = [(f, a) for f, a in apis.items() if resources[f].get("Condition") != "DeployMocks"]
        self.assertGreaterEqual(len(routed), 10)
        for function, api_ids in routed:
            with self.subTest(function=function):
                alarms = resources[function]["Properties"]["DeploymentPreference"]["Alarms"]
                for api in api_ids:
                    self.assertIn({"Ref": f"{api}5xxAlarm"}, alarms)
                    alarm = resources[f"{api}5xxAlarm"]["Properties"]
                    self.assertEqual((alarm["MetricName"], alarm["Statistic"]), ("5xx", "Average"))
                    self.assertIn({"Name": "ApiId", "Value": {"Ref": api}}, alarm["Dimensions"])

    def test_the_listeners_reconciler_and_publisher_also_roll_back_on_their_dead_letter_or_failure_alarm(self):
        for function, alarm in (("ProductionListenerFunction", "ProductionDeadLetterAlarm"),
                                ("InvoiceListenerFunction", "InvoiceDeadLetterAlarm"),
                                ("NotificationListenerFunction", "NotificationDeadLetterAlarm"),
                                ("OrderReconcilerFunction", "OrderReconcilerFailuresAlarm"),
                                ("OrderPaymentResultsPublisherFunction", "PublisherFailureAlarm")):
            with self.subTest(function=function):
                alarms = self.sam["Resources"][function]["Properties"]["DeploymentPreference"]["Alarms"]
                self.assertIn({"Ref": alarm}, alarms)

    def test_every_route_queue_stream_and_schedule_invokes_the_live_alias_never_an_unpublished_version(self):
        resources = self.cfn["Resources"]
        aliased = {name for name, r in tpl.functions(self.sam) if r.get("Condition") != "DeployMocks"}

        def target(value):
            """The function a reference names, and whether it names its alias."""
            if isinstance(value, dict) and "Ref" in value:
                ref = value["Ref"]
                if ref.endswith("Aliaslive"):
                    return ref[: -len("Aliaslive")], True
                return ref, False
            if isinstance(value, dict) and "Fn::GetAtt" in value:
                return value["Fn::GetAtt"][0], False
            return None, False

        callers = []
        for name, resource in resources.items():
            props = resource.get("Properties", {})
            kind = resource["Type"]
            if kind == "AWS::ApiGatewayV2::Integration":
                callers.append((name, props["IntegrationUri"]))
            elif kind in ("AWS::Lambda::Permission", "AWS::Lambda::EventSourceMapping"):
                callers.append((name, props["FunctionName"]))
            elif kind == "AWS::Scheduler::Schedule":
                callers.append((name, props["Target"]["Arn"]))
        self.assertGreater(len(callers), 30)
        for name, value in callers:
            function, via_alias = target(value)
            if function in aliased:
                with self.subTest(caller=name):
                    self.assertTrue(via_alias, f"{name} invokes {function} unqualified")

    def test_without_safe_releases_nothing_needs_codedeploy(self):
        # The default: a developer's own stack and the emulators (MiniStack has no CodeDeploy).
        kinds = {r["Type"] for r in self.cfn["Resources"].values()}
        self.assertFalse({k for k in kinds if k.startswith("AWS::CodeDeploy::")})
        self.assertIn("AWS::Lambda::Alias", kinds)

    def test_the_public_api_is_throttled(self):
        settings = self.cfn["Resources"]["PublicApiStage"]["Properties"]["DefaultRouteSettings"]
        self.assertIn("ThrottlingRateLimit", settings)
        self.assertIn("ThrottlingBurstLimit", settings)


if __name__ == "__main__":
    unittest.main()
