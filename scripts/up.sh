#!/usr/bin/env bash
# The Quick start's main job: the sample mesh, live. Installs and builds when needed, then runs
# `mtls-lab up` in the foreground (Ctrl-C stops every service). Extra arguments go to `up`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
if [ ! -f dist/cli.js ] || [ -n "$(find src webview sample-services -newer dist/cli.js -type f 2>/dev/null | head -1)" ]; then npm run build; fi
exec node dist/cli.js up "$@"
