#!/usr/bin/env bash
# Builds a Debian bookworm base image with debootstrap and `docker import`, for machines
# that cannot pull. Usage: build.sh [TAG...]   (default tag: debian:bookworm-slim)
#
# The Debian mirror is read from this machine's apt configuration (deb822 .sources files
# or sources.list), or from DEBIAN_MIRROR / DEBIAN_SECURITY_MIRROR.
set -euo pipefail

tags=("$@")
[ ${#tags[@]} -gt 0 ] || tags=("debian:bookworm-slim")
suite=bookworm

log() { printf '[base] %s\n' "$*"; }

# The first URI apt uses for a suite-family: `mirror_for debian` or `mirror_for debian-security`.
mirror_for() {
  local want=$1 uri
  # deb822 format.
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    while read -r uri; do
      case "$uri" in
        */"$want" | */"$want"/) echo "${uri%/}"; return 0 ;;
      esac
    done < <(sed -n 's/^URIs:[[:space:]]*//p' "$f" | tr ' ' '\n')
  done
  # One-line format.
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    while read -r uri; do
      case "$uri" in
        */"$want" | */"$want"/) echo "${uri%/}"; return 0 ;;
      esac
    done < <(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' "$f")
  done
  return 1
}

mirror=${DEBIAN_MIRROR:-$(mirror_for debian || true)}
security=${DEBIAN_SECURITY_MIRROR:-$(mirror_for debian-security || true)}
if [ -z "$mirror" ]; then
  echo "error: no Debian mirror found in /etc/apt; set DEBIAN_MIRROR to the URL of one" >&2
  exit 1
fi
log "mirror: $mirror${security:+ (security: $security)}"

if [ "$(id -u)" -ne 0 ]; then
  echo "error: debootstrap needs root; run this script as root (or pull the image instead)" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
command -v docker >/dev/null 2>&1 || { echo "error: docker is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/grader-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
root="$work/root"

log "debootstrap --variant=minbase $suite"
debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  echo "error: debootstrap failed" >&2
  exit 1
}

log "configuring apt and trimming"
{
  echo "deb $mirror $suite main"
  echo "deb $mirror $suite-updates main"
  [ -n "$security" ] && echo "deb $security $suite-security main"
} >"$root/etc/apt/sources.list"
# Like the official slim images: no docs, no recommends, no apt caches.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
cat >"$root/etc/apt/apt.conf.d/docker-slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
CFG
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log

log "docker import as ${tags[0]}"
tar -C "$root" --numeric-owner -c . | docker import \
  --change 'CMD ["bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --message "grader: debootstrap $suite minbase" \
  - "${tags[0]}" >/dev/null
for t in "${tags[@]:1}"; do
  docker tag "${tags[0]}" "$t"
done
log "done: ${tags[*]} ($(docker image inspect --format '{{.Size}}' "${tags[0]}" | awk '{printf "%.0f MB", $1/1e6}'))"
