#!/usr/bin/env bash
# stop-rt.sh - stop the rt-server that scripts/rt/start-rt.sh started, by the pid in
# $RT_STATE_DIR/rt-server.pid only (nothing is looked up by name). Idempotent:
# exits 0 when nothing runs; non-zero only if the server cannot be stopped.
#   RT_STATE_DIR  default /var/lib/releasedesk-rt
set -euo pipefail

RT_STATE_DIR="${RT_STATE_DIR:-/var/lib/releasedesk-rt}"
PIDFILE="$RT_STATE_DIR/rt-server.pid"

log() { printf '[stop-rt] %s\n' "$*" >&2; }

if [ ! -s "$PIDFILE" ]; then
  log "no pid file ($PIDFILE): nothing to stop"
  exit 0
fi
pid="$(cat "$PIDFILE")"
case "$pid" in ''|*[!0-9]*) log "bad pid file, removing"; rm -f "$PIDFILE"; exit 0 ;; esac
if ! kill -0 "$pid" 2>/dev/null || ! grep -aq 'rt-server' "/proc/$pid/cmdline" 2>/dev/null; then
  log "pid $pid is not a running rt-server: removing stale pid file"
  rm -f "$PIDFILE"
  exit 0
fi

# worker pids (children of the Starlet master), remembered before the master goes
children="$(ps -o pid= --ppid "$pid" 2>/dev/null | tr -s ' \n' ' ' || true)"

log "stopping rt-server pid $pid (workers: ${children:-none})"
kill -TERM "$pid" || { log "ERROR: cannot signal pid $pid"; exit 1; }
for _ in $(seq 1 30); do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.5
done
if kill -0 "$pid" 2>/dev/null; then
  log "pid $pid still alive after 15s, sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  sleep 0.5
fi
# Starlet's master normally takes its workers down; make sure, by pid only
for c in $children; do
  if kill -0 "$c" 2>/dev/null && grep -aq 'rt-server' "/proc/$c/cmdline" 2>/dev/null; then
    kill -TERM "$c" 2>/dev/null || true
  fi
done
if kill -0 "$pid" 2>/dev/null; then
  log "ERROR: pid $pid survived KILL"
  exit 1
fi
rm -f "$PIDFILE"
log "stopped"
