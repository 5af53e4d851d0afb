#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests, when it is missing.
# Playwright drives it via executable_path=/usr/bin/chromium: no browser download.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
  echo "install-browser: /usr/bin/chromium is missing and apt-get is not usable here;" \
       "the browser tests will say so and fail" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq chromium >/dev/null
echo "install-browser: installed $(/usr/bin/chromium --version)"
