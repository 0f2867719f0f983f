#!/usr/bin/env bash
# Debian's Tesseract for OCR of scanned PDFs and images (pytesseract drives the binary; the
# English model comes with it). Idempotent and quiet, like install-browser.sh.
set -euo pipefail
command -v tesseract >/dev/null && exit 0
source "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh"
apt_install install-ocr tesseract tesseract-ocr tesseract-ocr-eng
