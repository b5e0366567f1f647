<?php
// Waits for PostgreSQL and creates the tables. Runs once, before the server starts.
declare(strict_types=1);

require __DIR__ . '/db.php';

$deadline = time() + 30;
while (true) {
    try {
        $pdo = connect(false);
        break;
    } catch (PDOException $e) {
        if (time() > $deadline) {
            fwrite(STDERR, "cannot reach the database: {$e->getMessage()}\n");
            exit(1);
        }
        usleep(500000);
    }
}

$pdo->exec(<<<'SQL'
CREATE TABLE IF NOT EXISTS users (
    id            BIGSERIAL PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'user',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    id    BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS login_failures_email_at ON login_failures (email, at);
SQL);
echo "schema ready\n";
