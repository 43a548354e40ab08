"""samconfig.toml: the three environments the deploy notes promise, prod asks before it
changes anything, and no environment builds in parallel (issue 13: parallel
`cargo lambda build`s raced to install the Rust target and failed on a fresh machine)."""

import tomllib
import unittest
from pathlib import Path

SAMCONFIG = Path(__file__).resolve().parent.parent.parent / "samconfig.toml"


class Samconfig(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.config = tomllib.loads(SAMCONFIG.read_text())

    def settings(self, env, command):
        return self.config.get(env, {}).get(command, {}).get("parameters", {})

    def test_default_dev_and_prod_each_name_their_own_stack_and_region(self):
        stacks = {}
        for env in ("default", "dev", "prod"):
            with self.subTest(env=env):
                merged = {**self.settings(env, "global"), **self.settings(env, "deploy")}
                self.assertTrue(merged.get("stack_name"))
                self.assertTrue(merged.get("region"))
                stacks[env] = merged["stack_name"]
        self.assertEqual(len(set(stacks.values())), 3, stacks)

    def test_prod_confirms_its_change_set(self):
        self.assertIs(self.settings("prod", "deploy").get("confirm_changeset"), True)

    def test_dev_and_prod_release_by_canary_and_a_developers_own_stack_at_once(self):
        for env, expected in (("default", False), ("dev", True), ("prod", True)):
            with self.subTest(env=env):
                overrides = self.settings(env, "deploy").get("parameter_overrides", "")
                self.assertEqual('SafeReleases="true"' in overrides, expected, overrides)

    def test_the_workflow_deploys_dev_and_prod_by_canary_too(self):
        # Its --parameter-overrides replace samconfig's list, so it must say it again.
        workflow = (SAMCONFIG.parent / ".github" / "workflows" / "ci-cd.yml").read_text()
        deploys = [line for line in workflow.splitlines() if "--parameter-overrides" in line]
        self.assertEqual(len(deploys), 2, deploys)
        for line in deploys:
            self.assertIn("SafeReleases=true", line)

    def test_no_environment_builds_in_parallel(self):
        for env in self.config:
            if env == "version":
                continue
            with self.subTest(env=env):
                self.assertIsNot(self.settings(env, "build").get("parallel"), True)

    def test_every_environment_builds_with_cargo_lambda(self):
        # BuildMethod rust-cargolambda is a beta feature of SAM.
        for env in ("default", "dev", "prod"):
            with self.subTest(env=env):
                self.assertIs(self.settings(env, "build").get("beta_features"), True)


if __name__ == "__main__":
    unittest.main()
