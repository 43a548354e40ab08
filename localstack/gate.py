"""Holds Lambda invocations in line in front of `cargo lambda watch`, at most N in flight
per function, first come first served.

    python localstack/gate.py --listen 127.0.0.1:9001 --upstream http://127.0.0.1:9000

Why: watch queues at most 100 invocations per function and then stops invoking every
function, for good (cargo-lambda 1.9; tests/bench/NOTES.md). On AWS each concurrent
request gets an instance of its own; here a burst (200 schedules firing at once, 500
checkouts) must wait somewhere else. MiniStack forwards each invocation to this gate
(MINISTACK_LAMBDA_PROXY_URL), and the gate forwards it to watch's Invoke API unchanged.
It knows nothing of what the functions do."""

import argparse
import collections
import http.client
import threading
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

    def __enter__(self):
        with self.lock:
            ticket = object()
            self.waiting.append(ticket)
            self.lock.wait_for(lambda: self.waiting[0] is ticket and self.inside < self.limit)
            self.waiting.popleft()
            self.inside += 1
            self.lock.notify_all()
        return self

    def __exit__(self, *exc):
        with self.lock:
            self.inside -= 1
            self.lock.notify_all()


class Gates:
    def __init__(self, limit):
        self.limit = limit
        self.by_function = {}
        self.lock = threading.Lock()

    def __getitem__(self, function):
        with self.lock:
            return self.by_function.setdefault(function, FifoGate(self.limit))


def handler(upstream, gates, timeout):
    target = urllib.parse.urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if not self.path.startswith(INVOKE_PATH):
                return self.answer(404, b'{"message":"only the Lambda Invoke API goes through the gate"}')
            function = self.path[len(INVOKE_PATH):].split("/", 1)[0]
            headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED}
            with gates[function]:
                try:
                    connection = http.client.HTTPConnection(target.hostname, target.port, timeout=timeout)
                    connection.request("POST", self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    kept = [(k, v) for k, v in response.getheaders()
                            if k.lower() not in ("content-length", "transfer-encoding", "connection")]
                    connection.close()
                except OSError as e:
                    return self.answer(502, f'{{"message":"cargo lambda watch did not answer: {e}"}}'.encode())
            self.answer(response.status, payload, kept)

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


def serve(listen, upstream, limit, timeout=900):
    host, port = listen.rsplit(":", 1)
    return Server((host, int(port)), handler(upstream, Gates(limit), timeout))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listen", default="127.0.0.1:9001")
    parser.add_argument("--upstream", default="http://127.0.0.1:9000")
    parser.add_argument("--max-in-flight", type=int, default=32,
                        help="invocations per function at once (watch stalls at 100 queued)")
    args = parser.parse_args()
    server = serve(args.listen, args.upstream, args.max_in_flight)
    print(f"[gate] {args.listen} -> {args.upstream}, at most {args.max_in_flight} in flight per function", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
