#!/usr/bin/env bash
# Debian's chromium for the browser tests (Playwright drives it; `playwright install` would
# download a browser build, which a closed network cannot). Idempotent and quiet.
set -euo pipefail
[[ -x /usr/bin/chromium ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "install-browser: /usr/bin/chromium is missing; run as root: apt-get install chromium" >&2
  exit 1
fi
echo "install-browser: installing Debian's chromium (about a minute) …" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends chromium >/dev/null
