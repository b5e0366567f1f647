#!/bin/sh
# Creates the schema once (so the PHP workers never race to create it), then serves.
set -e
cd "$(dirname "$0")"
php -d display_errors=stderr init.php
export PHP_CLI_SERVER_WORKERS=4
exec php -d display_errors=stderr -d log_errors=0 -S "0.0.0.0:${PORT:-8080}" -t . index.php
