"""The todo-api reference (app.py, unchanged) plus a connection leak started at boot.

Its own pool opens all its connections first, so its API stays correct; then sixteen
threads open PostgreSQL connections until the server refuses more, hold every one, and
keep retrying, so any slot a classmate frees is taken again. Contained by a connection
limit per learner role.
"""

import threading
import time

import psycopg2

import app

HELD = []


def grab(url):
    while True:
        try:
            HELD.append(psycopg2.connect(url, connect_timeout=5))
        except psycopg2.Error as e:
            if not getattr(grab, "refused", False):
                grab.refused = True
                print(f"leaker: refused after {len(HELD)}: {e}".strip(), flush=True)
            time.sleep(0.5)


def report():
    while True:
        time.sleep(1)
        print(f"leaker: holding {len(HELD)} connections", flush=True)


def connect_pool(url, _connect=app.connect_pool):
    pool = _connect(url)
    own = [pool.getconn() for _ in range(app.POOL_SIZE)]
    for conn in own:
        pool.putconn(conn)
    for _ in range(16):
        threading.Thread(target=grab, args=(url,), daemon=True).start()
    threading.Thread(target=report, daemon=True).start()
    return pool


if __name__ == "__main__":
    app.connect_pool = connect_pool
    app.main()
