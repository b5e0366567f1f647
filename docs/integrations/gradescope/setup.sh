#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (the zip is
# unpacked in /autograder/source). It installs a Rust toolchain and builds `grader` from
# the source bundled in the zip (grader-src.tar.gz, made by make-zip.sh) or, without
# one, from GRADER_GIT_URL (set it in autograder.env).
#
# No Docker engine exists at this point (nor, on Gradescope, later: see README.md), so
# the images cannot be pulled here; `grader grade` pulls or builds them when it runs.
set -euo pipefail

ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
cd "$SOURCE"
if [ -f autograder.env ]; then
  # shellcheck disable=SC1091
  . ./autograder.env
fi
INSTALL_ROOT="${GRADER_INSTALL_ROOT:-/usr/local}"   # grader goes to $INSTALL_ROOT/bin
RUST_MIN_MINOR=85                                   # the workspace needs Rust 1.85+

# Build tools (Gradescope's base images are Ubuntu).
if ! command -v cc >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    build-essential ca-certificates curl git pkg-config
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
  echo "error: no grader-src.tar.gz in the zip and no GRADER_GIT_URL in autograder.env" >&2
  exit 1
fi

cargo install --locked --path grader-src/grader --root "$INSTALL_ROOT"
"$INSTALL_ROOT/bin/grader" --version
# run_autograder finds grader-src/exercises and grader-src/docker (the image recipes).
"$INSTALL_ROOT/bin/grader" --exercises grader-src/exercises list
