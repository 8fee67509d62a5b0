#!/usr/bin/env bash
# Runs every test against real PostgreSQL, Redis, Request Tracker 5, dnf and apt (installed and started
# by scripts/setup.sh when missing). Prints the plain "N passed, N failed" closing line.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/node-env.sh
echo "[test] node $(node -v)"
bash scripts/setup.sh
echo "[test] RT: Debian's request-tracker5 $(dpkg-query -W -f='${Version}' request-tracker5 2>/dev/null || echo '(not installed)')"
echo "[test] typecheck"
npx tsc --noEmit
echo "[test] format and lint (biome; npm run lint:fix repairs what it can)"
npx biome ci --reporter=summary .
mkdir -p var
set +e
npx vitest run --reporter=default --reporter=json --outputFile=var/vitest-report.json "$@"
rc=$?
set -e
node -e '
  const r = JSON.parse(require("fs").readFileSync("var/vitest-report.json", "utf8"));
  const skipped = r.numPendingTests + (r.numTodoTests || 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' || true
exit $rc
