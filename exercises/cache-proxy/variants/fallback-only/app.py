"""Reference solution of the cache-proxy exercise: the standard library plus redis-py.

A threaded HTTP server in front of a slow quotes API. Fresh entries live in Redis under
quote:{symbol} with a TTL of CACHE_TTL_SECONDS; a long-lived copy under
stale:quote:{symbol} is served when the upstream fails or is too slow. A per-symbol lock
lets one request fetch a cold symbol while the others wait for its answer.
"""

import json
import os
import re
import signal
import socket
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote, urlsplit

import redis

CACHE_TTL = int(os.environ.get("CACHE_TTL_SECONDS", "60"))
UPSTREAM_TIMEOUT = int(os.environ.get("UPSTREAM_TIMEOUT_MS", "1000")) / 1000
UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://localhost:9000").rstrip("/")
STALE_TTL = 24 * 3600  # stale copies outlive fresh entries by far

REDIS = redis.Redis.from_url(
    os.environ.get("REDIS_URL", "redis://localhost:6379/0"),
    socket_timeout=2,
    socket_connect_timeout=2,
    retry_on_timeout=True,
)
# No proxy from the environment: the upstream is on the private network.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

QUOTE_PATH = re.compile(r"^/quotes/([^/]+)$")

# One lock per symbol: concurrent misses of one symbol make a single upstream call.
LOCKS = {}
LOCKS_GUARD = threading.Lock()


def symbol_lock(symbol):
    with LOCKS_GUARD:
        return LOCKS.setdefault(symbol, threading.Lock())


class UpstreamError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def fetch(symbol):
    """The upstream's body for a 200; raises UpstreamError (502, or 504 on a timeout)."""
    url = f"{UPSTREAM_URL}/quotes/{quote(symbol, safe='')}"
    try:
        with OPENER.open(url, timeout=UPSTREAM_TIMEOUT) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        raise UpstreamError(502, f"the upstream answered {e.code}")
    except urllib.error.URLError as e:
        if isinstance(e.reason, (socket.timeout, TimeoutError)):
            raise UpstreamError(504, "the upstream did not answer in time")
        raise UpstreamError(502, f"the upstream cannot be reached: {e.reason}")
    except (socket.timeout, TimeoutError):
        raise UpstreamError(504, "the upstream did not answer in time")
    except OSError as e:
        raise UpstreamError(502, f"the upstream cannot be reached: {e}")


def fallback(symbol, error):
    """The upstream failed: the last copy we had, however old, else the error."""
    stale = REDIS.get(f"stale:quote:{symbol}")
    if stale is not None:
        return 200, stale, "STALE"
    return error.status, json.dumps({"error": error.message}).encode(), None


def get_quote(symbol):
    """(status, body, X-Cache value or None)."""
    key = f"quote:{symbol}"
    try:
        body = fetch(symbol)
    except UpstreamError as e:
        body = REDIS.get(key)
        if body is not None:
            return 200, body, "HIT"
        return fallback(symbol, e)  # errors are never cached
    pipe = REDIS.pipeline()
    pipe.set(key, body, ex=CACHE_TTL)
    pipe.set(f"stale:{key}", body, ex=STALE_TTL)
    pipe.execute()
    return 200, body, "MISS"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cache-proxy/1.0"

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.command, fmt % args))
        sys.stdout.flush()

    def send_body(self, status, body, headers=None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_error_json(self, status, message):
        self.send_body(status, json.dumps({"error": message}).encode())

    def do_GET(self):
        path = urlsplit(self.path).path
        try:
            if path == "/health":
                REDIS.ping()
                return self.send_body(200, b'{"status": "ok"}')
            m = QUOTE_PATH.match(path)
            if not m:
                return self.send_error_json(404, "not found")
            status, body, cache = get_quote(unquote(m.group(1)))
            self.send_body(status, body, {"X-Cache": cache} if cache else None)
        except redis.RedisError as e:
            self.send_error_json(503, f"redis is unavailable: {e}")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    port = int(os.environ.get("PORT", "8080"))
    server = Server(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"cache-proxy listening on :{port}, upstream {UPSTREAM_URL}, ttl {CACHE_TTL}s", flush=True)
    server.serve_forever()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
