// Reference solution of the job-queue exercise: Node.js's http module and node-pg.
//
// Jobs are rows of one table. A claim is one UPDATE whose subquery picks the next
// claimable job with FOR UPDATE SKIP LOCKED, so two workers never get the same job; a
// lease is a random id and an expiry time, both in the row, so it outlives a restart.
"use strict";

const http = require("http");
const crypto = require("crypto");
const { Pool } = require("pg");

const PORT = Number(process.env.PORT || 8080);
const LEASE_SECONDS = Number(process.env.LEASE_SECONDS || 30);
const MAX_BODY = 1024 * 1024;
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
// An idle connection the database ended (it restarted): the pool drops it and opens a
// new one for the next query.
pool.on("error", (err) => console.error(`database connection lost: ${err.message}`));

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id bigserial PRIMARY KEY,
  queue text NOT NULL,
  payload jsonb NOT NULL,
  priority integer NOT NULL DEFAULT 0,
  state text NOT NULL DEFAULT 'ready',
  attempts integer NOT NULL DEFAULT 0,
  lease_id text,
  lease_expires_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS jobs_claimable ON jobs (queue, priority DESC, id) WHERE state <> 'done';
`;

// A job as the API shows it: a claim whose lease ran out is ready again.
const COLUMNS = `id, queue, payload, priority,
  CASE WHEN state = 'claimed' AND lease_expires_at <= now() THEN 'ready' ELSE state END AS state,
  attempts, lease_id, lease_expires_at, created_at`;

function job(row) {
  const claimed = row.state === "claimed";
  return {
    id: Number(row.id),
    queue: row.queue,
    payload: row.payload,
    priority: row.priority,
    state: row.state,
    attempts: row.attempts,
    lease_id: claimed ? row.lease_id : null,
    lease_expires_at: claimed ? row.lease_expires_at.toISOString() : null,
    created_at: row.created_at.toISOString(),
  };
}

function send(res, status, body, headers = {}) {
  if (body === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

class BadRequest extends Error {}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(new BadRequest("the body is over 1 MiB"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch {
        reject(new BadRequest("the body is not JSON"));
      }
    });
    req.on("error", reject);
  });
}

function isObject(v) {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

async function enqueue(req, res, queue) {
  const body = await readJson(req);
  if (!isObject(body)) throw new BadRequest("the body must be a JSON object");
  if (body.payload === undefined || body.payload === null) {
    throw new BadRequest("payload is required");
  }
  const priority = body.priority === undefined ? 0 : body.priority;
  if (!Number.isInteger(priority) || priority < 0 || priority > 9) {
    throw new BadRequest("priority must be an integer from 0 to 9");
  }
  const { rows } = await pool.query(
    `INSERT INTO jobs (queue, payload, priority) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`,
    [queue, JSON.stringify(body.payload), priority],
  );
  const created = job(rows[0]);
  send(res, 201, created, { Location: `/jobs/${created.id}` });
}

async function claim(res, queue) {
  const { rows } = await pool.query(
    `UPDATE jobs SET state = 'claimed', attempts = attempts + 1, lease_id = $2,
            lease_expires_at = now() + make_interval(secs => $3)
      WHERE id = (SELECT id FROM jobs
                   WHERE queue = $1 AND state <> 'done'
                     AND (state = 'ready' OR lease_expires_at <= now())
                   ORDER BY priority DESC, id
                   LIMIT 1
                   FOR UPDATE SKIP LOCKED)
      RETURNING ${COLUMNS}`,
    [queue, crypto.randomUUID(), LEASE_SECONDS],
  );
  if (rows.length === 0) return send(res, 204);
  send(res, 200, job(rows[0]));
}

async function getJob(res, id) {
  const { rows } = await pool.query(`SELECT ${COLUMNS} FROM jobs WHERE id = $1`, [id]);
  if (rows.length === 0) return send(res, 404, { error: "no such job" });
  send(res, 200, job(rows[0]));
}

async function ack(req, res, id) {
  const body = await readJson(req);
  if (!isObject(body) || typeof body.lease_id !== "string") {
    throw new BadRequest("lease_id (a string) is required");
  }
  const { rows } = await pool.query(
    `UPDATE jobs SET state = 'done'
      WHERE id = $1 AND state = 'claimed' AND lease_id = $2 AND lease_expires_at > now()
      RETURNING ${COLUMNS}`,
    [id, body.lease_id],
  );
  if (rows.length === 1) return send(res, 200, job(rows[0]));
  const found = await pool.query("SELECT 1 FROM jobs WHERE id = $1", [id]);
  if (found.rows.length === 0) return send(res, 404, { error: "no such job" });
  send(res, 409, { error: "the lease is not current: it ran out, or the job was claimed again or done" });
}

async function route(req, res) {
  const path = req.url.split("?")[0];
  let m;
  if (req.method === "GET" && path === "/health") return send(res, 200, { status: "ok" });
  if ((m = path.match(/^\/queues\/([^/]+)\/(jobs|claim)$/)) && req.method === "POST") {
    const queue = decodeURIComponent(m[1]);
    if (!QUEUE_NAME.test(queue)) throw new BadRequest("a queue name is 1 to 64 letters, digits, - or _");
    return m[2] === "jobs" ? enqueue(req, res, queue) : claim(res, queue);
  }
  if ((m = path.match(/^\/jobs\/(\d{1,18})$/)) && req.method === "GET") return getJob(res, m[1]);
  if ((m = path.match(/^\/jobs\/(\d{1,18})\/ack$/)) && req.method === "POST") return ack(req, res, m[1]);
  send(res, 404, { error: "not found" });
}

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    if (err instanceof BadRequest) return send(res, 400, { error: err.message });
    console.error(`${req.method} ${req.url}: ${err.message}`);
    if (!res.headersSent) send(res, 503, { error: "the database is not available" });
  });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The database may still be starting: try for up to 60 s before giving up.
async function main() {
  for (let tried = 0; ; tried++) {
    try {
      await pool.query(SCHEMA);
      break;
    } catch (err) {
      if (tried >= 120) throw err;
      console.error(`waiting for the database: ${err.message}`);
      await sleep(500);
    }
  }
  server.listen(PORT, "0.0.0.0", () => console.log(`job-queue listening on ${PORT}`));
}

// SIGTERM: stop accepting, let requests in flight finish, close the pool, exit.
process.on("SIGTERM", () => {
  server.close(() => pool.end().finally(() => process.exit(0)));
  server.closeIdleConnections();
  setTimeout(() => process.exit(0), 3000).unref();
});

main().catch((err) => {
  console.error(`cannot start: ${err.message}`);
  process.exit(1);
});
