<?php
declare(strict_types=1);

/** A PDO connection built from PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD. */
function connect(bool $persistent = true): PDO
{
    $dsn = sprintf(
        'pgsql:host=%s;port=%s;dbname=%s',
        getenv('PGHOST') ?: 'localhost',
        getenv('PGPORT') ?: '5432',
        getenv('PGDATABASE') ?: 'app'
    );
    return new PDO($dsn, getenv('PGUSER') ?: null, getenv('PGPASSWORD') ?: null, [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
        PDO::ATTR_EMULATE_PREPARES => false,
        PDO::ATTR_PERSISTENT => $persistent,
    ]);
}
