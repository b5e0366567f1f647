import json, os, socket, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def answer(handler, status, payload):
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def serve(probe):
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            if self.path == "/health":
                answer(self, 200, {"status": "ok"})
            elif self.path == "/probe":
                probe(self)
            else:
                answer(self, 404, {"error": "no route"})

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), H).serve_forever()

state = {"root_writable": None, "tmp_bytes": 0}


def fill():
    try:
        with open("/fill", "wb") as f:
            f.write(b"0" * 1024)
        state["root_writable"] = True
    except OSError as e:
        print(f"/ is not writable: {e}", flush=True)
        state["root_writable"] = False
    chunk = b"0" * (1024 * 1024)
    try:
        with open("/tmp/fill", "wb") as f:
            while True:
                f.write(chunk)
                f.flush()
                state["tmp_bytes"] += len(chunk)
    except OSError as e:
        print(f"/tmp is full after {state['tmp_bytes']} bytes: {e}", flush=True)


threading.Thread(target=fill, daemon=True).start()


def probe(h):
    time.sleep(1)
    safe = state["root_writable"] is False and state["tmp_bytes"] <= 17 * 1024 * 1024
    answer(h, 200, dict(state, safe=safe))


serve(probe)
