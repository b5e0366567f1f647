#!/usr/bin/env bash
# Renders a report.html to a PNG with headless Chromium, to look at it as a person would.
# Usage: scripts/screenshot-report.sh REPORT.html [OUT.png]   (installs chromium if missing)
set -euo pipefail
html=$(realpath "$1")
out=${2:-${html%.html}.png}
if ! command -v chromium >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# No network: the page must be self-contained, so nothing it needs is lost.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --proxy-server="127.0.0.1:9" \
  --window-size=1100,1600 --screenshot="$out" "file://$html" >/dev/null 2>&1
echo "$out"
