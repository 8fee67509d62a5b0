#!/usr/bin/env bash
# Command 1 of the README: on a fresh machine, bring up what releasedesk needs (scripts/setup.sh),
# start the service (API + worker) with its defaults, then drive one sample release ticket through
# the real RT to Unverified, printing each step and the URLs. The service keeps running; Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
bash scripts/setup.sh
mkdir -p var
RT_STATE_DIR="${RT_STATE_DIR:-/var/lib/releasedesk-rt}"
export RT_TOKEN="${RT_TOKEN:-$(cat "$RT_STATE_DIR/tokens/releasedesk.token")}"
[ -s var/webhook-secret ] || (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=' > var/webhook-secret)
export WEBHOOK_SECRET="${WEBHOOK_SECRET:-$(cat var/webhook-secret)}"
# the sample provider below serves its packages on loopback, which downloads refuse unless allowed
export ALLOWED_DOWNLOAD_HOSTS="${ALLOWED_DOWNLOAD_HOSTS:-127.0.0.1}"
export PORT="${PORT:-8080}"
# repositories and client files name PUBLIC_URL: on another PORT they must name that port
export PUBLIC_URL="${PUBLIC_URL:-http://127.0.0.1:$PORT}"
if curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
  echo "[run] something already answers on 127.0.0.1:$PORT; stop it or set PORT" >&2; exit 1
fi
RELEASEDESK_WEBHOOK_URL="http://127.0.0.1:$PORT/webhooks/rt" RELEASEDESK_WEBHOOK_SECRET="$WEBHOOK_SECRET" \
  bash scripts/rt/seed-rt.sh --webhook-only >/dev/null
echo "[run] RT sends RepoAction changes to http://127.0.0.1:$PORT/webhooks/rt"

node --max-semi-space-size=2 services/main.ts > var/releasedesk.log 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 1 120); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 "$pid" 2>/dev/null || { tail -20 var/releasedesk.log >&2; echo "[run] the service exited" >&2; exit 1; }
  sleep 0.5
done
echo "[run] releasedesk is up (pid $pid): http://127.0.0.1:$PORT/healthz  logs: var/releasedesk.log"
node scripts/demo.ts
echo "[run] the service keeps running; Ctrl-C stops it"
wait "$pid"
