"""Faulty variant (in-memory) of the todo-api reference: todos live in a dict.

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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


MAX_TITLE = 200


class BadRequest(Exception):
    pass


# The mistake: todos are kept in process memory, so a restart or a crash loses them,
# and nothing reaches the database the exercise provides.
LOCK = threading.Lock()
TODOS = {}
NEXT_ID = [1]


def to_json(todo):
    return dict(todo)


def store_create(fields):
    with LOCK:
        todo = {
            "id": NEXT_ID[0],
            "title": fields["title"],
            "completed": fields.get("completed", False),
            "order": fields.get("order"),
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        NEXT_ID[0] += 1
        TODOS[todo["id"]] = todo
        return dict(todo)


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
        with LOCK:
            rows = [dict(t) for _, t in sorted(TODOS.items())]
        if args:
            rows = [t for t in rows if t["completed"] == args[0]]
        self.send_json(200, rows[offset:offset + limit])

    def create(self):
        fields = validate(self.read_json(), partial=False)
        todo = store_create(fields)
        self.send_json(201, todo, {"Location": f"/todos/{todo['id']}"})

    def get_one(self, todo_id):
        with LOCK:
            row = dict(TODOS[todo_id]) if todo_id in TODOS else None
        if row is None:
            return self.send_json(404, {"error": "todo not found"})
        self.send_json(200, row)

    def update(self, todo_id):
        fields = validate(self.read_json(), partial=True)
        with LOCK:
            if todo_id not in TODOS:
                return self.send_json(404, {"error": "todo not found"})
            TODOS[todo_id].update(fields)
            row = dict(TODOS[todo_id])
        self.send_json(200, row)

    def delete(self, todo_id):
        with LOCK:
            row = TODOS.pop(todo_id, None)
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
    port = int(os.environ.get("PORT", "8080"))
    server = Server(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"todo-api listening on :{port}", flush=True)
    server.serve_forever()
    print("stopped", flush=True)


if __name__ == "__main__":
    main()
