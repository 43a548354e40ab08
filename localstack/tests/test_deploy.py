"""What deploy.py changes on the way to the emulator, and nothing more."""

import io
import sys
import unittest
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import deploy  # noqa: E402
import template as tpl  # noqa: E402

EMULATOR = "http://127.0.0.1:4566"


class LocalUrls(unittest.TestCase):
    def test_an_aws_api_endpoint_becomes_the_emulators_path_form(self):
        self.assertEqual(
            deploy.local_url("https://a1b2c3d4.execute-api.us-east-1.amazonaws.com/api/v1/payments/webhook", EMULATOR),
            f"{EMULATOR}/_aws/execute-api/a1b2c3d4/api/v1/payments/webhook",
        )

    def test_ministacks_host_form_becomes_the_path_form(self):
        self.assertEqual(
            deploy.local_url("http://a1b2c3d4.execute-api.localhost:4566", EMULATOR),
            f"{EMULATOR}/_aws/execute-api/a1b2c3d4",
        )

    def test_other_values_are_left_alone(self):
        for value in ("checkout-local-OrdersTable-ABC", "arn:aws:lambda:us-east-1:000000000000:function:f", "https://example.com/x"):
            self.assertEqual(deploy.local_url(value, EMULATOR), value)


class Packaging(unittest.TestCase):
    def test_only_code_locations_and_the_proxy_variable_change(self):
        original = tpl.load()
        packaged = tpl.packaged(original, "bucket", "key.zip", lambda _n, fn: {deploy.PROXY_VAR: tpl.binary(fn)})
        for name, resource in tpl.functions(original):
            before, after = resource["Properties"], packaged["Resources"][name]["Properties"]
            self.assertEqual(after["CodeUri"], "s3://bucket/key.zip")
            variables = dict(after["Environment"]["Variables"])
            self.assertEqual(variables.pop(deploy.PROXY_VAR), tpl.binary(resource))
            self.assertEqual(variables, (before.get("Environment") or {}).get("Variables", {}))
            self.assertEqual({k: v for k, v in after.items() if k not in ("CodeUri", "Environment")},
                             {k: v for k, v in before.items() if k not in ("CodeUri", "Environment")})
        others = lambda t: {k: v for k, v in t["Resources"].items() if v["Type"] != tpl.FUNCTION}  # noqa: E731
        self.assertEqual(others(packaged), others(original))

    def test_the_placeholder_code_is_an_executable_bootstrap(self):
        with zipfile.ZipFile(io.BytesIO(deploy.placeholder_zip())) as archive:
            info = archive.getinfo("bootstrap")
            self.assertTrue((info.external_attr >> 16) & 0o111)


if __name__ == "__main__":
    unittest.main()
