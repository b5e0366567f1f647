# Once it has answered its health check, fills its own database without end, in 8 MiB
# statements: the grader must shut it out at its storage cap and end the run with that
# reason (GET /probe waits for it).
import os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2


def fill():
    written = 0
    while True:
        try:
            conn = psycopg2.connect(os.environ["DATABASE_URL"])
            conn.autocommit = True
            cur = conn.cursor()
            cur.execute("CREATE TABLE IF NOT EXISTS fill (x text)")
            while True:
                cur.execute("INSERT INTO fill SELECT repeat(md5(random()::text), 32) FROM generate_series(1, 8192)")
                written += 8
                print(f"wrote {written} MiB", flush=True)
        except psycopg2.Error as e:
            print(f"after {written} MiB: {e}", flush=True)
            time.sleep(0.5)


started = threading.Event()


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if not started.is_set():
            started.set()
            threading.Thread(target=fill, daemon=True).start()
        if self.path == "/probe":
            time.sleep(4)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), H).serve_forever()
