#!/usr/bin/env bash
# Installs Debian's nginx for the static-site tests, when it is missing. The tests run
# it unprivileged on a free loopback port with the generated configuration; the
# package's own service is never started by them.
set -euo pipefail
if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then exit 0; fi
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null; then
  echo "install-nginx: nginx is missing and apt-get is not usable here;" \
       "the nginx test will be skipped with this reason" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: do not start the packaged service while installing.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends nginx >/dev/null
echo "install-nginx: installed $(/usr/sbin/nginx -v 2>&1)"
