#!/usr/bin/env bash
# npm run bench: the figures in the README, measured on this machine, against real services.
#   webhook-ingest.ts  60 s of signed distinct webhooks vs an Express hello-world (req/s, p50/p99, none lost)
#   latency.ts 100     100 tickets at once: RepoAction set -> RepoStatus in RT, p50/p95 per action type
#   release-runs.ts 5 100 64  a 100-package release, RepoAction -> RepoStatus, vs curl+tar+sha256sum+createrepo_c + the same
#                      RT calls, 5 runs (BENCH_RUNS) and their medians: one run's ratio moves by half its value here
#   release.ts 1000 4 deb  a 1,000-DEB release, the same, with aptly repo add + 2 x publish repo as the index yardstick
#   release.ts 20 104858   BENCH_BIG=1 only: a ~4 GiB bundle, the worker's peak RSS while ingesting it
#   headers.ts         package headers of 100 and 1,000 RPMs / DEBs: a process per package vs readPackageHeaders
#   fs-calls.ts        2,000 small files written and stored: file system calls through libuv's pool vs on the thread
#   entries.ts         RPM headers and index entries of 100 and 1,000 RPMs: the RPM reader vs rpm -qp and createrepo_c run once
#   release.ts 1000 4 rpm  a 1,000-RPM release, the same as release.ts 100
#   promote.ts         promotion of a ~1 GiB vs a ~1 MiB release (time, bytes written); 1,000 DEBs vs aptly move + publish
#   dist.ts            1 package into a distribution of 1,000 vs 10,000; 1,000 DEBs promoted into 10,000 vs aptly, signed
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
bash scripts/setup.sh
node bench/webhook-ingest.ts "${BENCH_SECONDS:-60}" 50
node bench/latency.ts "${BENCH_TICKETS:-100}"
node bench/headers.ts 100,1000
node bench/entries.ts 100,1000
node bench/fs-calls.ts
# aptly is only a yardstick (release.ts deb, promote.ts, dist.ts), so it is installed here rather than by setup.sh
command -v aptly >/dev/null || { apt-get update -q >/dev/null; apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 aptly >/dev/null; }
node bench/release-runs.ts "${BENCH_RUNS:-5}" 100 64
node bench/release.ts 1000 4 rpm
node bench/release.ts 1000 4 deb
if [ "${BENCH_BIG:-0}" = 1 ]; then node bench/release.ts 20 104858; fi
node bench/promote.ts
node bench/dist.ts 1000 10000 1000
