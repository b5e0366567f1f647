# Tries what a database superuser could do from the submission's role: every attempt must
# be refused. /probe answers what happened, and `safe` only when all of it was refused
# while the role can still use its own database.
import json, os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2


def connect():
    deadline = time.time() + 30
    while True:
        try:
            conn = psycopg2.connect(os.environ["DATABASE_URL"])
            conn.autocommit = True  # CREATE DATABASE refuses a transaction block
            return conn
        except psycopg2.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def attempt(cur, sql):
    """The SQLSTATE that refused `sql`, or None when it ran."""
    try:
        cur.execute(sql)
        return None
    except psycopg2.Error as e:
        return e.pgcode or "refused"


def tries():
    conn = connect()
    cur = conn.cursor()
    cur.execute(
        "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolconnlimit "
        "FROM pg_roles WHERE rolname = current_user"
    )
    sup, createdb, createrole, repl, bypass, connlimit = cur.fetchone()
    cur.execute("SHOW statement_timeout")
    statement_timeout = cur.fetchone()[0]
    refused = {
        "copy_to_program": attempt(cur, "COPY (SELECT 1) TO PROGRAM 'id'"),
        "pg_read_file": attempt(cur, "SELECT pg_read_file('/etc/hostname')"),
        "create_database": attempt(cur, "CREATE DATABASE x"),
        "create_role": attempt(cur, "CREATE ROLE x"),
        "alter_own_role": attempt(cur, "ALTER ROLE CURRENT_USER SUPERUSER"),
    }
    cur.execute("CREATE TABLE IF NOT EXISTS notes (note text)")
    cur.execute("DELETE FROM notes")
    cur.execute("INSERT INTO notes VALUES ('written by the submission')")
    conn.close()
    flags = [sup, createdb, createrole, repl, bypass]
    safe = not any(flags) and 0 < connlimit and all(refused.values())
    return {
        "superuser": sup,
        "flags": flags,
        "connection_limit": connlimit,
        "statement_timeout": statement_timeout,
        "refused": refused,
        "safe": safe,
    }


STATE = tries()
print(json.dumps(STATE), flush=True)


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        if self.path == "/health":
            payload = {"status": "ok"}
        elif self.path == "/probe":
            payload = STATE
        else:
            payload = {"error": "no route"}
        body = json.dumps(payload).encode()
        self.send_response(200 if self.path in ("/health", "/probe") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), H).serve_forever()
