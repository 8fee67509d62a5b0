#!/usr/bin/env bash
# Brings a fresh Debian machine (Node + Debian's registry) to what releasedesk needs, idempotently:
# Node 24 (scripts/node-env.sh), npm dependencies, PostgreSQL and Redis (installed if missing, started if
# down, loopback only), the repository tools (createrepo_c, apt-ftparchive, gpg with its agent) and the real clients used by
# tests (dnf, apt), rpm/dpkg-dev for test packages, and a real Request Tracker 5 on 127.0.0.1 seeded for
# releasedesk.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[setup] %s\n' "$*" >&2; }
source scripts/node-env.sh

# rsync and swift-*: mirror targets (rsync daemon, OpenStack Swift's S3 API) the mirror tests start themselves;
# chromium: the console tests drive Debian's browser (playwright-core, no browser download);
# python3-rpm, python3-createrepo-c: the worker's long-lived RPM reader (services/storage/rpm-reader.ts)
APT_PKGS="postgresql redis-server rpm createrepo-c python3-rpm python3-createrepo-c dnf dnf-plugins-core apt-utils dpkg-dev curl libxml2-utils gpg gpg-agent gpgconf \
  rsync swift swift-proxy swift-object swift-container swift-account chromium"
missing=""
for p in $APT_PKGS; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
  log "apt-get install$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # keep maintainer scripts from starting daemons; we start them ourselves on loopback below
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1; fi
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 $missing >/tmp/releasedesk-apt.log 2>&1 \
    || { tail -20 /tmp/releasedesk-apt.log >&2; [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  cluster="$(ls /etc/postgresql | sort -V | tail -1)"
  pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
fi
# local trust for the postgres role over TCP on loopback is what Debian's CI images have; make sure
if ! psql -h 127.0.0.1 -U postgres -Atc 'select 1' >/dev/null 2>&1; then
  hba="$(ls /etc/postgresql/*/main/pg_hba.conf | tail -1)"
  log "allowing loopback trust auth for postgres in $hba"
  sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main reload
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.2; done
fi

# node_modules is installed by the Node that runs it: again when the lock file or Node's major changed
node_major="$(node -v | cut -d. -f1)"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ "$(cat node_modules/.node-major 2>/dev/null)" != "$node_major" ]; then
  log "npm ci (node $(node -v))"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$node_major" > node_modules/.node-major
fi

log "Request Tracker"
bash scripts/rt/start-rt.sh >/dev/null
if [ ! -s "${RT_STATE_DIR:-/var/lib/releasedesk-rt}/tokens/releasedesk.token" ]; then
  # first seed: a development secret; scripts/run.sh and the tests point the scrip at their own target
  RELEASEDESK_WEBHOOK_SECRET="${RELEASEDESK_WEBHOOK_SECRET:-releasedesk-dev-webhook-secret}" bash scripts/rt/seed-rt.sh >/dev/null
fi
log "ready"
