"""Reference solution of the todo-api exercise: the standard library plus psycopg2.

A threaded HTTP server; each request borrows a connection from a pool and commits
before it answers, so an acknowledged write survives a crash.
"""

import json
import os
import re
import signal
import sys
import threading
import time
from datetime import timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import psycopg2
import psycopg2.pool

SCHEMA = """
CREATE TABLE IF NOT EXISTS todos (
    id         BIGSERIAL PRIMARY KEY,
    title      TEXT NOT NULL,
    completed  BOOLEAN NOT NULL DEFAULT FALSE,
    "order"    BIGINT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
COLUMNS = 'id, title, completed, "order", created_at'
MAX_TITLE = 200


class BadRequest(Exception):
    pass


def connect_pool(url):
    """The database may still be starting: retry for up to 30 seconds."""
    deadline = time.monotonic() + 30
    while True:
        try:
            pool = psycopg2.pool.ThreadedConnectionPool(10, POOL_SIZE, url)  # 10 kept open: no churn under 10 clients
            conn = pool.getconn()
            with conn, conn.cursor() as cur:
                cur.execute(SCHEMA)
            pool.putconn(conn)
            return pool
        except psycopg2.OperationalError as e:
            if time.monotonic() > deadline:
                raise
            print(f"database not ready yet: {e}".strip(), flush=True)
            time.sleep(0.5)


POOL = None
POOL_SIZE = 20
# The pool raises when it is empty: a request waits here for a free connection instead.
SLOTS = threading.BoundedSemaphore(POOL_SIZE)


def query(sql, params=(), one=False):
    with SLOTS:
        conn = POOL.getconn()
        try:
            with conn, conn.cursor() as cur:
                cur.execute(sql, params)
                rows = cur.fetchall() if cur.description else []
            return (rows[0] if rows else None) if one else rows
        finally:
            POOL.putconn(conn)


def to_json(row):
    id_, title, completed, order, created_at = row
    return {
        "id": id_,
        "title": title,
        "completed": completed,
        "order": order,
        "created_at": created_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
    }


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def validate(body, partial):
    """Returns the fields to store; raises BadRequest with a message a client can show."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    fields = {}
    if "title" in body or not partial:
        title = body.get("title")
        if title is None:
            raise BadRequest("title is required")
        if not isinstance(title, str):
            raise BadRequest("title must be a string")
        if not title.strip():
            raise BadRequest("title must not be empty")
        if len(title) > MAX_TITLE:
            raise BadRequest(f"title must be at most {MAX_TITLE} characters")
        fields["title"] = title
    if "completed" in body:
        if not isinstance(body["completed"], bool):
            raise BadRequest("completed must be true or false")
        fields["completed"] = body["completed"]
    if "order" in body:
        if body["order"] is not None and not is_int(body["order"]):
            raise BadRequest("order must be an integer or null")
        fields["order"] = body["order"]
    return fields


def int_param(params, name, default, low, high):
    values = params.get(name)
    if not values:
        return default
    if not re.fullmatch(r"-?[0-9]+", values[0]):
        raise BadRequest(f"{name} must be an integer")
    n = int(values[0])
    if n < low or (high is not None and n > high):
        raise BadRequest(f"{name} must be between {low} and {high}" if high else f"{name} must be at least {low}")
    return n


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "todo-api/1.0"

    def log_message(self, fmt, *args):
        sys.stdout.write("%s %s\n" % (self.command, fmt % args))
        sys.stdout.flush()

    def send_json(self, status, payload, headers=None):
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def send_empty(self, status):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def read_json(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("the body is not valid JSON")

    def route(self, method):
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        try:
            if path == "/health":
                if method != "GET":
                    return self.send_json(405, {"error": "method not allowed"})
                return self.send_json(200, {"status": "ok"})
            if path == "/todos":
                if method == "GET":
                    return self.list_todos(parse_qs(url.query))
                if method == "POST":
                    return self.create()
                return self.send_json(405, {"error": "method not allowed"})
            m = re.fullmatch(r"/todos/([^/]+)", path)
            if m:
                if method not in ("GET", "PATCH", "DELETE"):
                    return self.send_json(405, {"error": "method not allowed"})
                if not re.fullmatch(r"[0-9]{1,18}", m.group(1)):
                    return self.send_json(404, {"error": "todo not found"})
                todo_id = int(m.group(1))
                if method == "GET":
                    return self.get_one(todo_id)
                if method == "PATCH":
                    return self.update(todo_id)
                return self.delete(todo_id)
            return self.send_json(404, {"error": "not found"})
        except BadRequest as e:
            return self.send_json(400, {"error": str(e)})
        except Exception as e:  # the client still gets an answer
            print(f"error: {e!r}", flush=True)
            return self.send_json(500, {"error": "internal error"})

    def list_todos(self, params):
        limit = int_param(params, "limit", 20, 1, 100)
        offset = int_param(params, "offset", 0, 0, None)
        where, args = "", []
        if "completed" in params:
            value = params["completed"][0]
            if value not in ("true", "false"):
                raise BadRequest("completed must be true or false")
            where, args = "WHERE completed = %s", [value == "true"]
        rows = query(f"SELECT {COLUMNS} FROM todos {where} ORDER BY id LIMIT %s OFFSET %s", args + [limit, offset])
        self.send_json(200, [to_json(r) for r in rows])

    def create(self):
        fields = validate(self.read_json(), partial=False)
        row = query(
            f'INSERT INTO todos (title, completed, "order") VALUES (%s, %s, %s) RETURNING {COLUMNS}',
            (fields["title"], fields.get("completed", False), fields.get("order")),
            one=True,
        )
        todo = to_json(row)
        self.send_json(201, todo, {"Location": f"/todos/{todo['id']}"})

    def get_one(self, todo_id):
        row = query(f"SELECT {COLUMNS} FROM todos WHERE id = %s", (todo_id,), one=True)
        if row is None:
            return self.send_json(404, {"error": "todo not found"})
        self.send_json(200, to_json(row))

    def update(self, todo_id):
        fields = validate(self.read_json(), partial=True)
        if fields:
            sets = ", ".join(f'"{k}" = %s' for k in fields)
            row = query(
                f"UPDATE todos SET {sets} WHERE id = %s RETURNING {COLUMNS}",
                list(fields.values()) + [todo_id],
                one=True,
            )
        else:
            row = query(f"SELECT {COLUMNS} FROM todos WHERE id = %s", (todo_id,), one=True)
        if row is None:
            return self.send_json(404, {"error": "todo not found"})
        self.send_json(200, to_json(row))

    def delete(self, todo_id):
        row = query("DELETE FROM todos WHERE id = %s RETURNING id", (todo_id,), one=True)
        if row is None:
            return self.send_json(404, {"error": "todo not found"})
        self.send_empty(204)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def do_PUT(self):
        self.route("PUT")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    global POOL
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit("DATABASE_URL is not set")
    POOL = connect_pool(url)
    port = int(os.environ.get("PORT", "8080"))
    server = Server(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"todo-api listening on :{port}", flush=True)
    server.serve_forever()
    POOL.closeall()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
