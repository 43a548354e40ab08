"""Holds Lambda invocations in line in front of `cargo lambda watch`, at most N in flight
per function, first come first served.

    python localstack/gate.py --listen 127.0.0.1:9001 --upstream http://127.0.0.1:9000

Why: watch queues at most 100 invocations per function and then stops invoking every
function, for good (cargo-lambda 1.9; tests/bench/NOTES.md). On AWS each concurrent
request gets an instance of its own; here a burst (200 schedules firing at once, 500
checkouts) must wait somewhere else. MiniStack forwards each invocation to this gate
(MINISTACK_LAMBDA_PROXY_URL), and the gate forwards it to watch's Invoke API unchanged.
It knows nothing of what the functions do.

For tests it also injects faults between the caller and a function, on request:
`POST /_faults {"function": "payment-request", "match": "<text in the invocation>",
"action": "hold" | "fail" | "lose", "ms": 12000, "times": 1, "every": 1}`. `hold` forwards the
invocation `ms` late (a slow callee), `fail` answers 502 after `ms` without forwarding it (an
invocation that never ran), `lose` forwards it and answers 502 instead of its answer (work
done, answer lost). A rule applies to the next `times` invocations of that function whose
payload contains `match` (an order id, say), so tests running at once do not disturb each
other; with `every: 2` it applies to every other one (the 1st, 3rd, ...: half the calls
fail). `GET /_faults` lists the rules with how often each applied; `DELETE
/_faults?match=<text>` drops the rules whose match contains it (a fault that is gone).

What it mirrors of Lambda: a function has `--max-in-flight` instances (watch's
`--concurrency`, so nothing waits inside watch, where the gate could not see it). An
invocation waits here, in arrival order, for a free instance, standing in for Lambda's
scale-out. MiniStack counts that wait against the function's Timeout, as Lambda would if it
had to wait, and sends the deadline (`X-Amzn-Lambda-Deadline-Ms`). An invocation that has
not started when less than `--start-margin-ms` of its time is left is refused as Lambda
refuses one past its concurrency (429 TooManyRequestsException) and never runs: its caller
is answered (MiniStack turns the refusal into a 502 for API Gateway, a retry for an async
invoke, a redelivery for a queue) and nothing runs after that answer. A `hold` fault that
would end past that point is refused the same way. `GET /_stats` counts, per function,
what was forwarded, what was refused, what started after its deadline (a ghost: always 0)
and what answered after it (the work was done; the caller had been told it timed out;
Lambda would have stopped it). `GET /_stats?times=1` adds how long each waited here and
ran upstream."""

import argparse
import collections
import http.client
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

INVOKE_PATH = "/2015-03-31/functions/"
# Headers of an Invoke API request that watch reads; the rest are hop-by-hop or MiniStack's.
FORWARDED = ("content-type", "x-amz-invocation-type", "x-amz-client-context", "x-amz-log-type")


class FifoGate:
    """At most `limit` holders at once; the others get in in the order they came."""

    def __init__(self, limit):
        self.limit = limit
        self.inside = 0
        self.waiting = collections.deque()
        self.lock = threading.Condition()

    def acquire(self, timeout=None):
        """Waits for a place, at most `timeout` seconds (None: for ever); whether it got in."""
        with self.lock:
            ticket = object()
            self.waiting.append(ticket)
            got_in = self.lock.wait_for(
                lambda: self.waiting[0] is ticket and self.inside < self.limit, timeout)
            self.waiting.remove(ticket)
            if got_in:
                self.inside += 1
            self.lock.notify_all()
            return got_in

    def release(self):
        with self.lock:
            self.inside -= 1
            self.lock.notify_all()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


class Gates:
    def __init__(self, limit):
        self.limit = limit
        self.by_function = {}
        self.lock = threading.Lock()

    def __getitem__(self, function):
        with self.lock:
            return self.by_function.setdefault(function, FifoGate(self.limit))


ACTIONS = ("hold", "fail", "lose")


class Faults:
    """Fault rules set by tests; each applies to a bounded number of matching invocations."""

    def __init__(self):
        self.rules = []
        self.lock = threading.Lock()

    def add(self, rule):
        function, match, action = rule.get("function"), rule.get("match"), rule.get("action")
        ms, times, every = rule.get("ms", 0), rule.get("times", 1), rule.get("every", 1)
        if not (isinstance(function, str) and function and isinstance(match, str) and match):
            raise ValueError("function and match must be non-empty strings")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        if not (isinstance(ms, int) and 0 <= ms <= 600_000 and isinstance(times, int) and 1 <= times <= 10_000
                and isinstance(every, int) and 1 <= every <= 100):
            raise ValueError("ms must be 0-600000, times 1-10000 and every 1-100")
        with self.lock:
            self.rules.append({"function": function, "match": match, "action": action,
                               "ms": ms, "times": times, "every": every, "seen": 0, "applied": 0})

    def take(self, function, body):
        """The rule for this invocation, if one still applies (counted as applied): of the
        invocations a rule matches, the 1st, then every `every`th after it."""
        with self.lock:
            for rule in self.rules:
                if (rule["function"] == function and rule["applied"] < rule["times"]
                        and rule["match"].encode() in body):
                    rule["seen"] += 1
                    if (rule["seen"] - 1) % rule["every"]:
                        continue
                    rule["applied"] += 1
                    return dict(rule)
        return None

    def clear(self, match):
        """Drops the rules whose match contains `match` (all with ""); how many."""
        with self.lock:
            kept = [rule for rule in self.rules if match not in rule["match"]]
            dropped = len(self.rules) - len(kept)
            self.rules = kept
            return dropped

    def listed(self):
        with self.lock:
            return [dict(rule) for rule in self.rules]


class Stats:
    """Per function: forwarded, refused, started late (ghosts), answered late; and the
    milliseconds each forwarded invocation waited here and then took upstream (the last
    `KEPT` of each), so a load test can split latency into queueing and function time."""

    KINDS = ("forwarded", "refused", "started_late", "answered_late")
    KEPT = 100_000

    def __init__(self):
        self.counts = {}
        self.times = {}
        self.lock = threading.Lock()

    def count(self, function, kind):
        with self.lock:
            counts = self.counts.setdefault(function, dict.fromkeys(self.KINDS, 0))
            counts[kind] += 1

    def timed(self, function, waited, ran):
        with self.lock:
            times = self.times.setdefault(function, {"waited_ms": collections.deque(maxlen=self.KEPT),
                                                     "ran_ms": collections.deque(maxlen=self.KEPT)})
            times["waited_ms"].append(round(waited * 1000, 1))
            times["ran_ms"].append(round(ran * 1000, 1))

    def listed(self, with_times=False):
        with self.lock:
            listed = {function: dict(counts) for function, counts in self.counts.items()}
            if with_times:
                for function, times in self.times.items():
                    listed[function].update({k: list(v) for k, v in times.items()})
            return listed


THROTTLED = json.dumps({
    "__type": "TooManyRequestsException",
    "Reason": "ConcurrentInvocationLimitExceeded",
    "message": "Rate Exceeded: no instance of the function was free before its timeout; it never ran",
}).encode()


def deadline_of(headers):
    """The invocation's deadline (epoch seconds) as MiniStack sends it, or None."""
    try:
        return int(headers.get("x-amzn-lambda-deadline-ms", "")) / 1000
    except ValueError:
        return None


def handler(upstream, gates, timeout, faults=None, stats=None, start_margin=1.0):
    target = urllib.parse.urlsplit(upstream)
    faults = faults if faults is not None else Faults()
    stats = stats if stats is not None else Stats()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path == "/_faults":
                return self.answer(200, json.dumps(faults.listed()).encode())
            if self.path in ("/_stats", "/_stats?times=1"):
                return self.answer(200, json.dumps(stats.listed(self.path.endswith("times=1"))).encode())
            self.answer(404, b'{"message":"not found"}')

        def do_DELETE(self):
            parts = urllib.parse.urlsplit(self.path)
            if parts.path != "/_faults":
                return self.answer(404, b'{"message":"not found"}')
            match = urllib.parse.parse_qs(parts.query).get("match", [""])[0]
            self.answer(200, json.dumps({"dropped": faults.clear(match)}).encode())

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.path == "/_faults":
                try:
                    faults.add(json.loads(body))
                except (ValueError, AttributeError) as e:
                    return self.answer(400, json.dumps({"message": str(e)}).encode())
                return self.answer(201, b"{}")
            if not self.path.startswith(INVOKE_PATH):
                return self.answer(404, b'{"message":"only the Lambda Invoke API goes through the gate"}')
            function = self.path[len(INVOKE_PATH):].split("/", 1)[0]
            headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED}
            deadline = deadline_of(self.headers)
            # The last instant it may start, so that nothing runs after its caller's answer.
            last_start = deadline - start_margin if deadline is not None else None
            fault = faults.take(function, body)
            if fault:
                held = fault["ms"] / 1000
                if fault["action"] == "hold" and last_start is not None and time.time() + held > last_start:
                    time.sleep(max(0.0, last_start - time.time()))
                    return self.refuse(function)
                time.sleep(held)
                if fault["action"] == "fail":
                    return self.answer(502, b'{"message":"fault injected: the invocation never ran"}')
            wait = None if last_start is None else max(0.0, last_start - time.time())
            gate = gates[function]
            arrived = time.monotonic()
            if not gate.acquire(wait):
                return self.refuse(function)
            forwarded = time.monotonic()
            try:
                if deadline is not None and time.time() >= deadline:
                    stats.count(function, "started_late")
                stats.count(function, "forwarded")
                # Past its deadline its caller has its answer: an invocation watch lost (a hot
                # reload drops the ones in flight) must not hold an instance for good.
                waits = timeout if deadline is None else max(1.0, deadline - time.time() + 1.0)
                connection = http.client.HTTPConnection(target.hostname, target.port, timeout=waits)
                connection.request("POST", self.path, body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                kept = [(k, v) for k, v in response.getheaders()
                        if k.lower() not in ("content-length", "transfer-encoding", "connection")]
                connection.close()
            except OSError as e:
                return self.answer(502, f'{{"message":"cargo lambda watch did not answer: {e}"}}'.encode())
            finally:
                gate.release()
                stats.timed(function, forwarded - arrived, time.monotonic() - forwarded)
            if deadline is not None and time.time() > deadline:
                stats.count(function, "answered_late")
            if fault and fault["action"] == "lose":
                return self.answer(502, b'{"message":"fault injected: the answer was lost"}')
            self.answer(response.status, payload, kept)

        def refuse(self, function):
            stats.count(function, "refused")
            self.answer(429, THROTTLED, [("x-amzn-errortype", "TooManyRequestsException")])

        def answer(self, status, payload, headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if not any(k.lower() == "content-type" for k, _ in headers):
                self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # A burst of hundreds of connections at once must wait in the gate, not be reset by
    # the kernel (the default backlog is 5).
    request_queue_size = 1024


def serve(listen, upstream, limit, timeout=900, start_margin=1.0):
    host, port = listen.rsplit(":", 1)
    return Server((host, int(port)), handler(upstream, Gates(limit), timeout, start_margin=start_margin))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:9001")
    parser.add_argument("--upstream", default="http://127.0.0.1:9000")
    parser.add_argument("--max-in-flight", type=int, default=2,
                        help="instances per function: watch's --concurrency (watch stalls at 100 queued)")
    parser.add_argument("--start-margin-ms", type=int, default=1000,
                        help="an invocation that has not started this close to its deadline is refused")
    args = parser.parse_args()
    server = serve(args.listen, args.upstream, args.max_in_flight, start_margin=args.start_margin_ms / 1000)
    print(f"[gate] {args.listen} -> {args.upstream}, at most {args.max_in_flight} in flight per function,"
          f" refused {args.start_margin_ms} ms before its deadline if not started", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
