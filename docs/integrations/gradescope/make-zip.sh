#!/usr/bin/env bash
# Builds a Gradescope autograder zip for one exercise:
#
#   docs/integrations/gradescope/make-zip.sh EXERCISE [OUT.zip]
#
# EXERCISE is a bundled exercise's name (todo-api) or an exercise folder, which is
# copied into the zip. The zip holds setup.sh, run_autograder, autograder.env (the
# settings) and the grader: with GRADER_BINARY=PATH that binary (built for the image's
# Linux, e.g. `cargo build --release` on Debian 12 or Ubuntu 22.04+), else
# grader-src.tar.gz (this repository's grader, exercises and image recipes), or with
# GRADER_GIT_URL set (and GRADER_GIT_REF, optional) nothing, and setup.sh clones that.
#
# The autograder grades with the process runtime (Gradescope has no Docker engine):
# PACKAGES, the Debian/Ubuntu packages setup.sh installs, defaults to the exercise's
# services (postgresql, redis-server) and the packages its reference's Dockerfile
# installs (its language and drivers); set PACKAGES for submissions in other languages.
# GRADER_RUNTIME (process), GRADER_ARGS and DOCKER_HOST, when set, are written into
# autograder.env as the defaults of every run.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
exercise="${1:?usage: make-zip.sh EXERCISE [OUT.zip]}"
out="${2:-autograder-$(basename "$exercise").zip}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
cp "$here/setup.sh" "$here/run_autograder" "$stage/"
chmod +x "$stage/setup.sh" "$stage/run_autograder"

# Settings: each line keeps a value the environment already sets (": ${X:=...}").
# shellcheck disable=SC2016 # $SOURCE and ${X:=} are expanded by the reader, not here
{
  echo "# Settings of the autograder, read by setup.sh and run_autograder."
  if [ -d "$exercise" ] || [ -f "$exercise" ]; then
    # A folder (or spec file) of its own: ship the folder.
    dir="$exercise"; [ -f "$dir" ] && dir="$(dirname "$dir")"
    cp -r "$dir" "$stage/exercise"
    rm -rf "$stage/exercise/solutions" "$stage/exercise/variants"   # not needed to grade
    echo ': "${EXERCISE:=$SOURCE/exercise}"'
  else
    [ -f "$repo/exercises/$exercise/spec.toml" ] \
      || { echo "error: no exercise \`$exercise\` in $repo/exercises" >&2; exit 1; }
    printf ': "${EXERCISE:=%s}"\n' "$exercise"
    dir="$repo/exercises/$exercise"
  fi
  if [ -z "${PACKAGES:-}" ]; then
    # The services the spec declares, and what the reference's Dockerfile installs.
    PACKAGES=""
    grep -q '^\[services\.postgres\]' "$dir/spec.toml" && PACKAGES="postgresql"
    grep -q '^\[services\.redis\]' "$dir/spec.toml" && PACKAGES="$PACKAGES redis-server"
    for f in "$dir"/solutions/*/Dockerfile; do
      [ -f "$f" ] || continue
      PACKAGES="$PACKAGES $(sed -n 's/.*apt-get install \(.*\)/\1/p' "$f" \
        | tr -d '\\&' | tr ' ' '\n' | grep -v -e '^-' -e '^$' | tr '\n' ' ')"
    done
  fi
  printf ': "${PACKAGES:=%s}"\n' "$(echo $PACKAGES)"
  printf ': "${GRADER_RUNTIME:=%s}"\n' "${GRADER_RUNTIME:-process}"
  [ -n "${GRADER_ARGS:-}" ] && printf ': "${GRADER_ARGS:=%s}"\n' "$GRADER_ARGS"
  [ -n "${DOCKER_HOST:-}" ] && printf ': "${DOCKER_HOST:=%s}"; export DOCKER_HOST\n' "$DOCKER_HOST"
  if [ -n "${GRADER_GIT_URL:-}" ]; then
    printf 'GRADER_GIT_URL=%s\n' "$GRADER_GIT_URL"
    [ -n "${GRADER_GIT_REF:-}" ] && printf 'GRADER_GIT_REF=%s\n' "$GRADER_GIT_REF"
  fi
  true
} >"$stage/autograder.env"

if [ -n "${GRADER_BINARY:-}" ]; then
  cp "$GRADER_BINARY" "$stage/grader"
  chmod 0755 "$stage/grader"
elif [ -z "${GRADER_GIT_URL:-}" ]; then
  # What `cargo install --path grader` needs, plus the exercises and image recipes:
  # the files git tracks (as they are in the work tree), so work in progress stays out.
  parts=(Cargo.toml Cargo.lock grader harness exercises docker tests/e2e.rs)
  if git -C "$repo" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git -C "$repo" ls-files -z -- "${parts[@]}" \
      | tar -czf "$stage/grader-src.tar.gz" -C "$repo" --null -T -
  else
    tar -czf "$stage/grader-src.tar.gz" -C "$repo" \
      --exclude=target --exclude=grader-out --exclude=__pycache__ "${parts[@]}"
  fi
fi

rm -f "$out"
(cd "$stage" && zip -qr "$out" .)
echo "$out:"
unzip -l "$out"
