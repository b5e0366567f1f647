<?php
// Reference solution of the auth-service exercise: PHP's built-in server with a router
// script (this file), PDO pgsql with prepared statements, bcrypt via password_hash, and
// random opaque tokens whose SHA-256 is stored in the sessions table with an expiry.
declare(strict_types=1);

require __DIR__ . '/db.php';

const MAX_FAILURES = 5;      // failed logins per e-mail ...
const FAILURE_WINDOW = 60;   // ... within this many seconds, then 429

final class HttpError extends Exception
{
    public function __construct(public readonly int $status, string $message)
    {
        parent::__construct($message);
    }
}

function respond(int $status, mixed $body = null): void
{
    http_response_code($status);
    if ($body !== null) {
        header('Content-Type: application/json');
        echo json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
    }
}

function db(): PDO
{
    static $pdo = null;
    return $pdo ??= connect();
}

/** The request body as a JSON object (an associative array), or 400. */
function json_body(): array
{
    $raw = file_get_contents('php://input');
    try {
        $body = json_decode($raw === false ? '' : $raw, false, 32, JSON_THROW_ON_ERROR);
    } catch (JsonException) {
        throw new HttpError(400, 'the body must be a JSON object');
    }
    if (!$body instanceof stdClass) {
        throw new HttpError(400, 'the body must be a JSON object');
    }
    return get_object_vars($body);
}

function string_field(array $body, string $name): string
{
    if (!isset($body[$name]) || !is_string($body[$name])) {
        throw new HttpError(400, "$name is required and must be a string");
    }
    return $body[$name];
}

function normalize_email(string $email): string
{
    return strtolower(trim($email));
}

function valid_email(string $email): bool
{
    return strlen($email) <= 254 && preg_match('/^[^@\s]+@[^@\s]+\.[^@\s.]+$/', $email) === 1;
}

function token_ttl(): int
{
    $ttl = (int) (getenv('TOKEN_TTL_SECONDS') ?: 3600);
    return $ttl > 0 ? $ttl : 3600;
}

function user_json(array $row): array
{
    return ['id' => (int) $row['id'], 'email' => $row['email'], 'role' => $row['role']];
}

/** The user the request's bearer token belongs to, or 401. */
function authenticate(): array
{
    $header = '';
    foreach (getallheaders() as $name => $value) {
        if (strcasecmp($name, 'Authorization') === 0) {
            $header = $value;
        }
    }
    if (!preg_match('/^Bearer\s+(\S+)\s*$/i', $header, $m)) {
        throw new HttpError(401, 'missing bearer token');
    }
    $stmt = db()->prepare(
        'SELECT u.id, u.email, u.role FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = ? AND s.expires_at > now()'
    );
    $stmt->execute([hash('sha256', $m[1])]);
    $user = $stmt->fetch();
    if ($user === false) {
        throw new HttpError(401, 'invalid or expired token');
    }
    return $user;
}

function register(): void
{
    $body = json_body();
    $email = normalize_email(string_field($body, 'email'));
    $password = string_field($body, 'password');
    if (!valid_email($email)) {
        throw new HttpError(400, 'email is not a valid e-mail address');
    }
    if (preg_match_all('/./su', $password) <= 8) {
        throw new HttpError(400, 'password must be at least 8 characters long');
    }
    $admin = normalize_email((string) getenv('ADMIN_EMAIL'));
    $role = $admin !== '' && $email === $admin ? 'admin' : 'user';
    $stmt = db()->prepare(
        'INSERT INTO users (email, password_hash, role) VALUES (?, ?, ?)
         ON CONFLICT (email) DO NOTHING RETURNING id, email, role'
    );
    $stmt->execute([$email, password_hash($password, PASSWORD_DEFAULT), $role]);
    $row = $stmt->fetch();
    if ($row === false) {
        throw new HttpError(409, 'this email is already registered');
    }
    respond(201, user_json($row));
}

function login(): void
{
    $body = json_body();
    $email = normalize_email(string_field($body, 'email'));
    $password = string_field($body, 'password');
    $pdo = db();

    $stmt = $pdo->prepare(
        "SELECT count(*) FROM login_failures WHERE email = ? AND at > now() - make_interval(secs => ?)"
    );
    $stmt->execute([$email, FAILURE_WINDOW]);
    if ((int) $stmt->fetchColumn() >= MAX_FAILURES) {
        header('Retry-After: ' . FAILURE_WINDOW);
        throw new HttpError(429, 'too many failed logins for this email, try again later');
    }

    $stmt = $pdo->prepare('SELECT id, password_hash FROM users WHERE email = ?');
    $stmt->execute([$email]);
    $user = $stmt->fetch();
    // Verify against a dummy hash for unknown e-mails too, so both take the same time.
    $hash = $user === false ? password_hash('not a password', PASSWORD_DEFAULT) : $user['password_hash'];
    if (!password_verify($password, $hash) || $user === false) {
        $pdo->prepare('INSERT INTO login_failures (email) VALUES (?)')->execute([$email]);
        throw new HttpError(401, 'invalid email or password');
    }

    $token = bin2hex(random_bytes(32));
    $ttl = token_ttl();
    $pdo->prepare(
        'INSERT INTO sessions (token_hash, user_id, expires_at) VALUES (?, ?, now() + make_interval(secs => ?))'
    )->execute([hash('sha256', $token), $user['id'], $ttl]);
    respond(200, ['token' => $token, 'token_type' => 'Bearer', 'expires_in' => $ttl]);
}

function me(): void
{
    respond(200, user_json(authenticate()));
}

function admin_users(): void
{
    $user = authenticate();
    if ($user['role'] !== 'admin') {
        throw new HttpError(403, 'only admins may list users');
    }
    $rows = db()->query('SELECT id, email, role FROM users ORDER BY id')->fetchAll();
    respond(200, array_map('user_json', $rows));
}

function health(): void
{
    db()->query('SELECT 1');
    respond(200, ['status' => 'ok']);
}

$routes = [
    '/health' => ['GET' => 'health'],
    '/register' => ['POST' => 'register'],
    '/login' => ['POST' => 'login'],
    '/me' => ['GET' => 'me'],
    '/admin/users' => ['GET' => 'admin_users'],
];

$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
try {
    if (!isset($routes[$path])) {
        throw new HttpError(404, 'not found');
    }
    if (!isset($routes[$path][$method])) {
        header('Allow: ' . implode(', ', array_keys($routes[$path])));
        throw new HttpError(405, 'method not allowed');
    }
    $routes[$path][$method]();
} catch (HttpError $e) {
    respond($e->status, ['error' => $e->getMessage()]);
} catch (Throwable $e) {
    error_log((string) $e);
    respond(500, ['error' => 'internal server error']);
}
