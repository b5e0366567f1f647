"""The todo-api reference (app.py, unchanged) plus heavy queries started at boot.

Four threads, each on a connection of its own, run heavy queries back to back for as
long as the server runs: a 10^8-row join (pure CPU), a 10^8-row numeric series (CPU,
and a tuplestore that spills to temporary files) and a sort of three million strings
(CPU and temporary files). Contained by CPU shares between learners, statement_timeout
and temp_file_limit.
"""

import threading
import time

import psycopg2

import app

QUERIES = [
    "SELECT count(*) FROM generate_series(1, 10000) a, generate_series(1, 10000) b",
    "SELECT count(*) FROM generate_series(1, 1e8)",
    "SELECT count(*) FROM (SELECT md5(i::text) FROM generate_series(1, 3000000) i ORDER BY 1) s",
]


STATE = {"finished": 0, "refusals": 0, "last": ""}


def burn(url, first):
    conn, n = None, first
    while True:
        try:
            if conn is None or conn.closed:
                conn = psycopg2.connect(url, connect_timeout=5)
                conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(QUERIES[n % len(QUERIES)])
            STATE["finished"] += 1
        except psycopg2.Error as e:
            STATE["refusals"] += 1
            STATE["last"] = (str(e).strip().splitlines() or [type(e).__name__])[0]
            if conn is not None and conn.closed:
                conn = None
            time.sleep(0.2)
        n += 1


def report():
    while True:
        time.sleep(1)
        print(
            f"burner: {STATE['finished']} heavy queries finished, {STATE['refusals']} refused"
            + (f", the last: {STATE['last']}" if STATE["last"] else ""),
            flush=True,
        )


def connect_pool(url, _connect=app.connect_pool):
    pool = _connect(url)
    for first in range(4):
        threading.Thread(target=burn, args=(url, first), daemon=True).start()
    threading.Thread(target=report, daemon=True).start()
    return pool


if __name__ == "__main__":
    app.connect_pool = connect_pool
    app.main()
