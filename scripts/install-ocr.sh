#!/usr/bin/env bash
# Debian's Tesseract for OCR of scanned PDFs and images (pytesseract drives the binary; the
# English model comes with it). Idempotent and quiet, like install-browser.sh.
set -euo pipefail
command -v tesseract >/dev/null && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "install-ocr: tesseract is missing; run as root: apt-get install tesseract-ocr" >&2
  exit 1
fi
echo "install-ocr: installing Debian's tesseract-ocr (about a minute) …" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng >/dev/null
