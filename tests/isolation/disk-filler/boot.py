"""The todo-api reference (app.py, unchanged) plus a disk filler started at boot.

Two threads, each on a connection of its own, write 16 MiB at a time (8192 rows of
1900 bytes, four to a page) into tables of their own, in its own database, until the
server refuses; then they try again every second, for as long as the server runs, so
whatever space frees up is taken again. One table is UNLOGGED (the fastest way to fill
the disk), the other logged (its WAL fills the server's shared pg_wal as well). Contained by the storage cap
per learner database that the grader enforces, on a shared disk sized for every learner
at its cap.
"""

import threading
import time

import psycopg2

import app

TABLES = ["CREATE UNLOGGED TABLE IF NOT EXISTS ballast_0 (b TEXT)", "CREATE TABLE IF NOT EXISTS ballast_1 (b TEXT)"]
FILL = "INSERT INTO ballast_{} (b) SELECT repeat('x', 1900) FROM generate_series(1, 8192)"
STATE = {"written_mib": 0, "refusals": 0, "last": ""}


def fill(url, table):
    conn = None
    while True:
        try:
            if conn is None or conn.closed:
                conn = psycopg2.connect(url, connect_timeout=5)
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(TABLES[table])
            with conn.cursor() as cur:
                cur.execute(FILL.format(table))
            STATE["written_mib"] += 16
        except psycopg2.Error as e:
            STATE["refusals"] += 1
            STATE["last"] = (str(e).strip().splitlines() or [type(e).__name__])[0]
            if conn is not None and conn.closed:
                conn = None
            time.sleep(1)


def report():
    while True:
        time.sleep(1)
        print(
            f"filler: {STATE['written_mib']} MiB written, {STATE['refusals']} refusals"
            + (f", the last: {STATE['last']}" if STATE["last"] else ""),
            flush=True,
        )


def connect_pool(url, _connect=app.connect_pool):
    pool = _connect(url)
    for table in range(2):
        threading.Thread(target=fill, args=(url, table), daemon=True).start()
    threading.Thread(target=report, daemon=True).start()
    return pool


if __name__ == "__main__":
    app.connect_pool = connect_pool
    app.main()
