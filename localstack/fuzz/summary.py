"""Prints, per operation, how many requests the fuzzer sent and what they were answered,
from the HAR files of `localstack/fuzz.sh` (.local/fuzz/*.har), so a run shows that it
reached past the authentication (not only 401s and 403s)."""

import collections
import json
import re
import sys
from pathlib import Path

import yaml


def templates(spec_path):
    """(method, regex, template) of every operation of the spec."""
    spec = yaml.safe_load(Path(spec_path).read_text())
    found = []
    for path, item in spec["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), pattern, path))
    return found


def main(spec_path, har_dir):
    ops = templates(spec_path)
    counts = collections.defaultdict(collections.Counter)
    for har in sorted(Path(har_dir).glob("*.har")):
        for entry in json.loads(har.read_text())["log"]["entries"]:
            method = entry["request"]["method"]
            path = re.sub(r"^https?://[^/]+(/_aws/execute-api/[^/]+)?", "", entry["request"]["url"]).split("?")[0]
            name = next((f"{m} {t}" for m, p, t in ops if m == method and p.match(path)),
                        f"{method} (no route)")
            counts[name][entry["response"]["status"]] += 1
    for name in sorted(counts):
        statuses = counts[name]
        shown = ", ".join(f"{n}× {s}" for s, n in sorted(statuses.items()))
        print(f"[fuzz] {sum(statuses.values()):5} {name}: {shown}")


if __name__ == "__main__":
    main(*sys.argv[1:])
