#!/bin/sh
# Tools the benchmarks need beyond the venv: Debian's wrk (HTTP load at fixed duration).
# Benchmark-only Python packages come from pyproject's `bench` extra.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
    else sudo apt-get install -y wrk; fi
fi
"$here/.venv/bin/python" -m pip install --quiet -e "$here[test,bench]"
wrk --version 2>&1 | head -1 || true
