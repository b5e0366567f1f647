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

def candidates():
    # Addresses of this machine only: the default gateway (if any) and the first
    # address of the container's own subnet, where the host sits on a normal bridge.
    found = set()
    with open("/proc/net/route") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if parts[1] == "00000000" and parts[2] != "00000000":
                found.add(socket.inet_ntoa(bytes.fromhex(parts[2])[::-1]))
    own = socket.gethostbyname(socket.gethostname())
    found.add(".".join(own.split(".")[:3] + ["1"]))
    return sorted(found)


def probe(h):
    reached = []
    for addr in candidates():
        try:
            socket.create_connection((addr, 47999), timeout=1).close()
            reached.append(addr)
        except OSError as e:
            print(f"{addr}:47999 unreachable: {e}", flush=True)
    answer(h, 200, {"safe": not reached, "tried": candidates(), "reached": reached})


serve(probe)
