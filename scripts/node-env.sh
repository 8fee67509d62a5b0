# Sourced by scripts/setup.sh, test.sh, run.sh and bench/run.sh: releasedesk runs on Node 24 (.nvmrc).
# When the node on PATH is another major, Node 24 and npm 11 are installed once from the npm registry
# (node-<os>-<arch>, the official binary, no install script) into .tools/node24 (git-ignored), and its
# bin goes first on PATH, so node, npm, npx and node_modules/.bin (tsc, vitest) all run on 24.
# A second run only reads `node -v`.
rd_node_env() {
  local want=24 root tools bin arch pkg tmp out
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  tools="$root/.tools/node$want"
  bin="$tools/node_modules/.bin"
  [ "$(node -v 2>/dev/null | cut -d. -f1)" = "v$want" ] && return 0
  if [ "$("$bin/node" -v 2>/dev/null | cut -d. -f1)" != "v$want" ]; then
    case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac
    pkg="node-$(uname -s | tr 'A-Z' 'a-z')-$arch"
    command -v npm >/dev/null || { echo "[node-env] Node $want is needed and there is no npm to fetch it: install Node $want" >&2; return 1; }
    if ! out="$(npm view "$pkg@$want" version 2>&1)"; then
      case "$out" in
        *E404*) echo "[node-env] the npm registry has no $pkg@$want for this machine ($(uname -sm)): install Node $want yourself" >&2 ;;
        *) echo "[node-env] Node $want is needed and npm could not ask the registry for $pkg@$want: $(printf '%s' "$out" | grep -m1 'npm error' || true)" >&2 ;;
      esac
      return 1
    fi
    echo "[node-env] installing Node $want ($pkg@$want, npm@11) into .tools/node$want" >&2
    # installed aside, then renamed: a concurrent or interrupted run never sees half a tree
    tmp="$tools.tmp.$$"
    rm -rf "$tmp"
    if ! npm install --prefix "$tmp" --no-save --no-audit --no-fund --loglevel=error "$pkg@$want" npm@11 >&2; then
      rm -rf "$tmp"; echo "[node-env] npm could not install $pkg@$want into .tools/node$want" >&2; return 1
    fi
    if [ "$("$bin/node" -v 2>/dev/null | cut -d. -f1)" = "v$want" ]; then rm -rf "$tmp"; else rm -rf "$tools" && mv "$tmp" "$tools"; fi
  fi
  export PATH="$bin:$PATH"
  hash -r
}
rd_node_env || { unset -f rd_node_env; return 1 2>/dev/null || exit 1; }
unset -f rd_node_env
