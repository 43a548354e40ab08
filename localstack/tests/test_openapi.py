"""openapi.yaml against template.yaml: the contract names exactly the template's routes,
each on its own API (the operation's tag) with that API's authorization, every error a
handler answers is a problem+json and every other one is API Gateway's own, and the
document is valid OpenAPI 3.1 whose examples satisfy their own schemas."""

import os
import subprocess
import sys
import unittest
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import template as tpl  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent
OPENAPI = ROOT / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The template's HTTP APIs, by the tag their operations carry.
TAG_OF_API = {"PublicApi": "public", "InternalApi": "internal", "WebhookApi": "webhook", "EwalletApi": "ewallet"}
# A route without AWS_IAM authorization is authorized as its API is.
SECURITY_OF_TAG = {"public": [], "webhook": [{"webhookSignature": []}], "ewallet": [{"ewalletApiKey": []}]}
SIGV4 = [{"sigv4": []}]

PROBLEM = "#/components/schemas/Problem"
GATEWAY_MESSAGE = "#/components/schemas/GatewayMessage"


def operations(spec):
    """(path, METHOD, operation, path item) of every operation in the document."""
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method.upper(), item[method], item


def routes(template):
    """{(tag, METHOD, path): route resource} of every AWS::ApiGatewayV2::Route."""
    found = {}
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::ApiGatewayV2::Route":
            continue
        props = resource["Properties"]
        api = props["ApiId"]["Ref"]
        method, path = str(props["RouteKey"]).split(" ", 1)
        found[(TAG_OF_API.get(api, f"<unknown API {api}>"), method, path)] = (name, props)
    return found


def ref_target(spec, ref):
    node = spec
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def resolved(spec, node):
    while isinstance(node, dict) and "$ref" in node:
        node = ref_target(spec, node["$ref"])
    return node


def is_problem(spec, schema):
    """Whether a schema is the Problem, or a Problem narrowed by allOf."""
    if schema.get("$ref") == PROBLEM:
        return True
    target = resolved(spec, schema)
    return any(part.get("$ref") == PROBLEM for part in target.get("allOf", []))


class OpenApiContract(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.spec = yaml.safe_load(OPENAPI.read_text())
        cls.template = tpl.load()
        cls.routes = routes(cls.template)
        cls.operations = {}
        for path, method, operation, item in operations(cls.spec):
            tags = operation.get("tags", [])
            tag = tags[0] if len(tags) == 1 else f"<tags {tags}>"
            cls.operations[(tag, method, path)] = (operation, item)

    def test_the_contract_names_exactly_the_templates_routes_each_on_its_own_api(self):
        documented, deployed = set(self.operations), set(self.routes)
        missing = sorted(f"{tag}: {method} {path}" for tag, method, path in deployed - documented)
        extra = sorted(f"{tag}: {method} {path}" for tag, method, path in documented - deployed)
        self.assertFalse(
            missing or extra,
            "openapi.yaml and template.yaml disagree (tag: METHOD path)\n"
            f"  routes in template.yaml but not in openapi.yaml: {missing}\n"
            f"  operations in openapi.yaml but not in template.yaml: {extra}",
        )

    def test_every_operation_has_one_api_tag_and_its_own_operation_id(self):
        ids = [op.get("operationId") for op, _ in self.operations.values()]
        for (tag, method, path), (operation, _) in self.operations.items():
            with self.subTest(route=f"{method} {path}"):
                self.assertIn(tag, TAG_OF_API.values(), f"{method} {path} needs exactly one API tag")
                self.assertTrue(operation.get("operationId"), f"{method} {path} has no operationId")
        self.assertEqual(len(ids), len(set(ids)), f"operationIds repeat: {sorted(ids)}")

    def test_each_routes_security_is_what_the_template_authorizes(self):
        for key, (name, props) in sorted(self.routes.items()):
            tag, method, path = key
            if key not in self.operations:
                continue  # reported by the route test
            operation, _ = self.operations[key]
            with self.subTest(route=name):
                iam = props.get("AuthorizationType") == "AWS_IAM"
                expected = SIGV4 if iam else SECURITY_OF_TAG.get(tag)
                self.assertEqual(
                    operation.get("security"), expected,
                    f"{method} {path} ({name}, AuthorizationType {props.get('AuthorizationType', 'NONE')})",
                )
        sigv4 = self.spec["components"]["securitySchemes"]["sigv4"]
        self.assertEqual((sigv4["type"], sigv4["in"], sigv4["name"]), ("apiKey", "header", "Authorization"))
        self.assertEqual(sigv4.get("x-amazon-apigateway-authtype"), "awsSigv4")

    def test_every_iam_route_documents_api_gateways_403(self):
        for (tag, method, path), (name, props) in sorted(self.routes.items()):
            if props.get("AuthorizationType") != "AWS_IAM" or (tag, method, path) not in self.operations:
                continue
            responses = self.operations[(tag, method, path)][0]["responses"]
            with self.subTest(route=name):
                self.assertEqual(
                    responses.get("403", {}).get("$ref"), "#/components/responses/GatewayForbidden",
                    f"{method} {path} is AWS_IAM: an unsigned call is API Gateway's 403",
                )

    def test_each_path_is_served_by_its_apis_url_from_the_stack_outputs(self):
        outputs = self.template["Outputs"]
        for (tag, method, path), (_, item) in sorted(self.operations.items()):
            with self.subTest(route=f"{method} {path}"):
                servers = item.get("servers", [])
                self.assertEqual(len(servers), 1, f"{path} needs its API's one server")
                output = servers[0].get("x-stack-output")
                self.assertIn(output, outputs, f"{path}: x-stack-output {output!r} is no output of template.yaml")
                value = outputs[output]["Value"]
                api = next(a for a, t in TAG_OF_API.items() if t == tag)
                if "Fn::GetAtt" in value:
                    attribute = value["Fn::GetAtt"]
                    attribute = attribute if isinstance(attribute, list) else attribute.split(".")
                    self.assertEqual(list(attribute), [api, "ApiEndpoint"], f"{path}: {output}")
                else:
                    self.assertIn(f"${{{api}.ApiEndpoint}}", str(value.get("Fn::Sub")), f"{path}: {output}")

    def test_every_error_is_a_problem_unless_api_gateway_answered_it(self):
        for (tag, method, path), (operation, _) in sorted(self.operations.items()):
            for status, response in operation["responses"].items():
                if not str(status).startswith(("4", "5")):
                    continue
                with self.subTest(route=f"{method} {path}", status=status):
                    content = resolved(self.spec, response).get("content", {})
                    self.assertTrue(content, f"{method} {path} {status} documents no body")
                    for media_type, media in content.items():
                        schema = media.get("schema", {})
                        if media_type == "application/problem+json":
                            self.assertTrue(is_problem(self.spec, schema), f"{method} {path} {status}: not a Problem")
                        else:
                            self.assertEqual(
                                (media_type, schema.get("$ref")), ("application/json", GATEWAY_MESSAGE),
                                f"{method} {path} {status}: {media_type} is neither a problem nor API Gateway's own answer",
                            )

    def test_every_schema_is_valid_and_every_example_satisfies_its_schema(self):
        import jsonschema
        import referencing
        import referencing.jsonschema

        registry = referencing.Registry().with_resource(
            "urn:openapi",
            referencing.Resource.from_contents(self.spec, default_specification=referencing.jsonschema.DRAFT202012),
        )

        def validator(schema):
            return jsonschema.Draft202012Validator(
                {"$ref": "urn:openapi" + schema["$ref"]} if "$ref" in schema else schema,
                registry=registry,
                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
            )

        def check(where, schema, example):
            errors = [e.message for e in validator(schema).iter_errors(example)]
            self.assertEqual(errors, [], f"{where}: the example {example!r} breaks its schema")

        for name, schema in self.spec["components"]["schemas"].items():
            with self.subTest(schema=name):
                jsonschema.Draft202012Validator.check_schema(schema)
                if "example" in schema:
                    check(f"components/schemas/{name}", {"$ref": f"#/components/schemas/{name}"}, schema["example"])
        for name, parameter in self.spec["components"]["parameters"].items():
            if "example" in parameter:
                with self.subTest(parameter=name):
                    check(f"components/parameters/{name}", parameter["schema"], parameter["example"])
        for name, response in self.spec["components"]["responses"].items():
            for media_type, media in response.get("content", {}).items():
                if "example" in media:
                    with self.subTest(response=name, media_type=media_type):
                        check(f"components/responses/{name}", media["schema"], media["example"])

    def test_the_document_is_valid_openapi_3_1(self):
        self.assertEqual(self.spec["openapi"], "3.1.0")
        # The validator lives in the fuzzer's environment (localstack/fuzz-requirements.txt).
        validator = ROOT / ".venv-fuzz" / "bin" / "openapi-spec-validator"
        if not validator.exists():
            if os.environ.get("REQUIRE_STACK"):
                self.fail(f"{validator} is missing: bash localstack/stack.sh install")
            self.skipTest("the fuzzer's environment is not installed (bash localstack/stack.sh install)")
        checked = subprocess.run([str(validator), str(OPENAPI)], capture_output=True, text=True)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)


if __name__ == "__main__":
    unittest.main()
