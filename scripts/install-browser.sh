#!/usr/bin/env bash
# Debian's chromium for the browser tests (Playwright drives it; `playwright install` would
# download a browser build, which a closed network cannot). Idempotent and quiet.
set -euo pipefail
[[ -x /usr/bin/chromium ]] && exit 0
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install install-browser /usr/bin/chromium chromium
