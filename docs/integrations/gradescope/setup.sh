#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (the zip is
# unpacked in /autograder/source). Gradescope gives no Docker engine, so the grader runs
# with its process runtime: it starts its own PostgreSQL and Redis from this image's
# packages and the submission as a process (see README.md, "Without Docker"). This
# script installs:
#   - the packages autograder.env lists in PACKAGES: the exercise's services
#     (postgresql, redis-server) and what a submission needs to build and run (the
#     reference's language: python3 python3-psycopg2, golang-go, ...);
#   - the grader: the binary bundled in the zip (`grader`, made by make-zip.sh with
#     GRADER_BINARY), else built with Rust from the bundled source (grader-src.tar.gz)
#     or from GRADER_GIT_URL.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
cd "$SOURCE"
if [ -f autograder.env ]; then
  # shellcheck disable=SC1091
  . ./autograder.env
fi
INSTALL_ROOT="${GRADER_INSTALL_ROOT:-/usr/local}"   # grader goes to $INSTALL_ROOT/bin
RUST_MIN_MINOR=89                                   # the workspace needs Rust 1.89+

apt_install() {
  [ $# -gt 0 ] || return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The services and the submission's language, and prlimit (util-linux) for its limits.
# shellcheck disable=SC2086 # PACKAGES is a list of words on purpose
apt_install ca-certificates util-linux ${PACKAGES:-}
# Debian and Ubuntu start PostgreSQL and Redis as services on install where they can:
# the grader starts servers of its own, on free loopback ports, for every run.
service postgresql stop >/dev/null 2>&1 || true
service redis-server stop >/dev/null 2>&1 || true

if [ -f grader ]; then
  # The bundled binary: it carries the exercises and needs no toolchain.
  install -m 0755 grader "$INSTALL_ROOT/bin/grader"
else
  if ! command -v cc >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
    apt_install build-essential curl git pkg-config
  fi
  # Rust, unless a recent enough one is already there.
  export PATH="$HOME/.cargo/bin:$PATH"
  minor=$(rustc --version 2>/dev/null | sed -n 's/^rustc 1\.\([0-9]*\).*/\1/p')
  if [ "${minor:-0}" -lt "$RUST_MIN_MINOR" ]; then
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs \
      | sh -s -- -y --profile minimal --default-toolchain stable
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
  fi
  # The grader's source: bundled, else cloned.
  if [ -f grader-src.tar.gz ]; then
    rm -rf grader-src && mkdir grader-src
    tar -xzf grader-src.tar.gz -C grader-src
  elif [ -n "${GRADER_GIT_URL:-}" ]; then
    rm -rf grader-src
    git clone --depth 1 ${GRADER_GIT_REF:+--branch "$GRADER_GIT_REF"} "$GRADER_GIT_URL" grader-src
  else
    echo "error: no grader binary or grader-src.tar.gz in the zip, and no GRADER_GIT_URL in autograder.env" >&2
    exit 1
  fi
  cargo install --locked --path grader-src/grader --root "$INSTALL_ROOT"
fi
"$INSTALL_ROOT/bin/grader" --version
"$INSTALL_ROOT/bin/grader" list >/dev/null
