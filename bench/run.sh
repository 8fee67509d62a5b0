#!/usr/bin/env bash
# npm run bench: the figures in the README, measured on this machine, against real services.
#   webhook-ingest.ts  signed distinct webhooks vs an Express hello-world (req/s, p50/p99, none lost)
#   release.ts 100     a 100-package release, RepoAction -> RepoStatus, vs curl+tar+sha256sum+createrepo_c
#   release.ts 20 104858   BENCH_BIG=1 only: a ~2 GiB bundle, the worker's peak RSS while ingesting it
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node --import tsx bench/webhook-ingest.ts "${BENCH_EVENTS:-20000}" 50
node --import tsx bench/release.ts 100 64
if [ "${BENCH_BIG:-0}" = 1 ]; then node --import tsx bench/release.ts 20 104858; fi
