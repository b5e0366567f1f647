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

def probe(h):
    h.send_response(200)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(5 * 1024 ** 3))
    h.end_headers()
    chunk = b"0" * (1024 * 1024)
    for _ in range(5 * 1024):
        h.wfile.write(chunk)


serve(probe)
