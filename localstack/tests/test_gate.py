"""The gate in front of cargo lambda watch: a cap per function, first come first served,
and answers passed through unchanged."""

import json
import sys
import threading
import time
import unittest
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import gate  # noqa: E402


class Upstream:
    """Stands in for watch's Invoke API: records how many calls of each function overlap,
    and holds each call until released."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inside = {}
        self.most = {}
        self.order = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                function = self.path.split("/")[3]
                with outer.lock:
                    outer.inside[function] = outer.inside.get(function, 0) + 1
                    outer.most[function] = max(outer.most.get(function, 0), outer.inside[function])
                    outer.order.append(json.loads(body)["n"])
                outer.release.wait(10)
                with outer.lock:
                    outer.inside[function] -= 1
                answer = json.dumps({"echo": json.loads(body), "function": function}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


class Gate(unittest.TestCase):
    def setUp(self):
        self.upstream = Upstream()
        self.gate = gate.serve("127.0.0.1:0", self.upstream.url, limit=3)
        threading.Thread(target=self.gate.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.gate.server_address[1]}"

    def tearDown(self):
        self.upstream.release.set()
        self.gate.shutdown()
        self.upstream.server.shutdown()

    def invoke(self, function, n, answers, deadline=None):
        headers = {"x-amzn-lambda-deadline-ms": str(int(deadline * 1000))} if deadline else {}
        request = urllib.request.Request(
            f"{self.url}/2015-03-31/functions/{function}/invocations",
            data=json.dumps({"n": n}).encode(), method="POST", headers=headers)
        with urllib.request.urlopen(request, timeout=20) as response:
            answers.append((response.status, json.loads(response.read())))

    def test_a_burst_is_held_to_the_cap_per_function_and_all_are_answered(self):
        answers = []
        calls = [threading.Thread(target=self.invoke, args=(f, n, answers))
                 for n in range(10) for f in ("order-checkout", "payment-request")]
        for call in calls:
            call.start()
        deadline = time.time() + 10
        while len(self.upstream.order) < 6 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # room for a broken gate to let more through
        self.assertEqual(self.upstream.most, {"order-checkout": 3, "payment-request": 3})
        self.upstream.release.set()
        for call in calls:
            call.join(20)
        self.assertEqual(len(answers), 20)
        self.assertTrue(all(status == 200 for status, _ in answers))
        self.assertEqual(sorted(a["echo"]["n"] for _, a in answers if a["function"] == "order-checkout"), list(range(10)))

    def test_waiting_calls_get_in_in_the_order_they_came(self):
        fifo = gate.FifoGate(limit=1)
        entered, first_inside = [], threading.Event()
        release = threading.Event()

        def hold(n):
            with fifo:
                entered.append(n)
                first_inside.set()
                release.wait(10)

        holders = [threading.Thread(target=hold, args=(0,))]
        holders[0].start()
        first_inside.wait(5)
        for n in range(1, 8):
            holders.append(threading.Thread(target=hold, args=(n,)))
            holders[-1].start()
            # Waits until this caller is queued, so arrival order is certain.
            while len(fifo.waiting) < n:
                time.sleep(0.001)
        release.set()
        for holder in holders:
            holder.join(10)
        self.assertEqual(entered, list(range(8)))

    def fault(self, rule):
        request = urllib.request.Request(f"{self.url}/_faults", data=json.dumps(rule).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as response:
            self.assertEqual(response.status, 201)

    def status_of(self, function, n, deadline=None):
        answers = []
        try:
            self.invoke(function, n, answers, deadline)
        except urllib.error.HTTPError as e:
            return e.code
        return answers[0][0]

    def test_a_fault_applies_only_to_matching_invocations_of_its_function_and_only_so_often(self):
        self.upstream.release.set()
        self.fault({"function": "payment-request", "match": '"n": 7', "action": "fail", "times": 2})
        self.assertEqual(self.status_of("payment-request", 7), 502)
        self.assertEqual(self.status_of("order-checkout", 7), 200, "another function")
        self.assertEqual(self.status_of("payment-request", 8), 200, "another payload")
        self.assertEqual(self.status_of("payment-request", 7), 502)
        self.assertEqual(self.status_of("payment-request", 7), 200, "used up")
        self.assertEqual(self.upstream.order.count(7), 2, "a failed invocation never ran")

    def test_a_lost_answer_was_still_run_and_a_held_one_arrives_late(self):
        self.upstream.release.set()
        self.fault({"function": "payment-request", "match": '"n": 1', "action": "lose"})
        self.assertEqual(self.status_of("payment-request", 1), 502)
        self.assertEqual(self.upstream.order, [1])
        self.fault({"function": "payment-request", "match": '"n": 2', "action": "hold", "ms": 300})
        started = time.monotonic()
        self.assertEqual(self.status_of("payment-request", 2), 200)
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def stats(self):
        with urllib.request.urlopen(f"{self.url}/_stats", timeout=5) as response:
            return json.loads(response.read())

    def test_an_invocation_that_cannot_start_before_its_deadline_is_refused_and_never_runs(self):
        # The gate's 3 instances of order-get are busy until released.
        busy = [threading.Thread(target=self.invoke, args=("order-get", n, [])) for n in range(3)]
        for call in busy:
            call.start()
        while len(self.upstream.order) < 3:
            time.sleep(0.01)
        started = time.time()
        # 1.5 s to its deadline, less the gate's 1 s margin: refused after about 0.5 s.
        status = self.status_of("order-get", 99, deadline=started + 1.5)
        waited = time.time() - started
        self.assertEqual(status, 429, "refused as Lambda throttles")
        self.assertLess(waited, 1.5, "answered before its deadline")
        self.assertGreaterEqual(waited, 0.4, "it waited for an instance first")
        self.upstream.release.set()
        for call in busy:
            call.join(10)
        time.sleep(0.3)  # room for a broken gate to forward it after all
        self.assertNotIn(99, self.upstream.order, "a refused invocation never runs")
        self.assertEqual(self.stats()["order-get"],
                         {"forwarded": 3, "refused": 1, "started_late": 0, "answered_late": 0})

    def test_one_that_gets_an_instance_in_time_runs_and_an_overrun_is_counted(self):
        self.upstream.release.set()
        self.assertEqual(self.status_of("order-get", 1, deadline=time.time() + 5), 200)
        self.assertEqual(self.upstream.order, [1])
        self.upstream.release.clear()
        # Forwarded within its margin, answered after its deadline (the upstream holds it).
        threading.Timer(1.6, self.upstream.release.set).start()
        self.assertEqual(self.status_of("order-get", 2, deadline=time.time() + 1.5), 200)
        self.assertEqual(self.stats()["order-get"],
                         {"forwarded": 2, "refused": 0, "started_late": 0, "answered_late": 1})

    def test_an_invocation_upstream_lost_frees_its_instance_once_its_deadline_passed(self):
        # The upstream holds every call (as watch does with the ones a hot reload dropped).
        lost = [threading.Thread(target=self.status_of, args=("order-get", n, time.time() + 1.5))
                for n in range(3)]
        for call in lost:
            call.start()
        given_up = time.time() + 4  # the deadline and the gate's 1 s of grace, and some
        for call in lost:
            call.join(max(0, given_up - time.time()))
        self.assertFalse(any(call.is_alive() for call in lost), "answered once the deadline passed")
        self.upstream.release.set()
        self.assertEqual(self.status_of("order-get", 9, deadline=time.time() + 5), 200,
                         "the instances are free again")

    def test_a_hold_that_would_end_past_the_deadline_is_refused_and_never_runs(self):
        self.upstream.release.set()
        self.fault({"function": "payment-request", "match": '"n": 5', "action": "hold", "ms": 5000})
        started = time.time()
        self.assertEqual(self.status_of("payment-request", 5, deadline=started + 2), 429)
        self.assertLess(time.time() - started, 2)
        self.assertEqual(self.upstream.order, [])

    def test_a_fault_every_other_time_fails_half_the_calls_until_dropped(self):
        self.upstream.release.set()
        self.fault({"function": "invoice-mock", "match": '"n": 3', "action": "fail", "times": 100, "every": 2})
        self.assertEqual([self.status_of("invoice-mock", 3) for _ in range(4)], [502, 200, 502, 200])
        request = urllib.request.Request(f"{self.url}/_faults?match=%22n%22%3A%203", method="DELETE")
        with urllib.request.urlopen(request, timeout=5) as response:
            self.assertEqual(json.loads(response.read()), {"dropped": 1})
        self.assertEqual([self.status_of("invoice-mock", 3) for _ in range(2)], [200, 200], "the fault is gone")

    def test_a_bad_fault_rule_is_refused(self):
        for rule in ({"function": "f", "match": "", "action": "fail"},
                     {"function": "f", "match": "x", "action": "explode"},
                     {"function": "f", "match": "x", "action": "hold", "ms": -1},
                     {"function": "f", "match": "x", "action": "fail", "every": 0}):
            with self.assertRaises(urllib.error.HTTPError) as refused:
                self.fault(rule)
            self.assertEqual(refused.exception.code, 400)

    def test_only_the_invoke_api_goes_through(self):
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(f"{self.url}/other", data=b"{}", method="POST"), timeout=5)
        self.assertEqual(refused.exception.code, 404)


if __name__ == "__main__":
    unittest.main()
