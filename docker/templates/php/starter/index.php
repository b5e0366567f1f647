<?php
// Starter for __EXERCISE__: answers GET /health. Build the rest from README.md.
// The database is at getenv("DATABASE_URL") (php-pgsql is installed).
header("Content-Type: application/json");
$path = parse_url($_SERVER["REQUEST_URI"], PHP_URL_PATH);
if ($_SERVER["REQUEST_METHOD"] === "GET" && $path === "/health") {
    echo json_encode(["status" => "ok"]);
} else {
    http_response_code(404);
    echo json_encode(["error" => "not found"]);
}
