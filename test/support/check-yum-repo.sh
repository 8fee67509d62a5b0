#!/usr/bin/env bash
# check-yum-repo.sh REPO_URL_OR_DIR PKGNAME
# Project copy (test support) of the repo-clients checker; used by test/support/repo-clients.ts.
#
# Acceptance check with the REAL dnf client (Debian 12: apt-get install dnf dnf-plugins-core).
# Exit 0 only if dnf can read the repo metadata, sees PKGNAME as available and downloads it
# (checksum verified by dnf against primary.xml, then `rpmkeys -K --nosignature` on a scratch rpmdb).
# Nothing on the host is touched: a throw-away --installroot, own dnf.conf, reposdir=/dev/null.
#
# REPO_URL_OR_DIR: a directory containing repodata/repomd.xml, or file:// http:// https:// URL.
# PKGNAME: any dnf package spec (name, name-version, NEVRA, glob).
#
# Env:
#   GPGKEY=path-or-URL   ASCII-armoured public key(s), required: repo_gpgcheck=1, so repodata/repomd.xml.asc
#                        must verify with it (a repository is never read on trust)
#   REPOFILE=path        read the repository through this .repo client file as it is (its own repo_gpgcheck,
#                        gpgcheck and gpgkey) instead of --repofrompath; GPGKEY is then not needed
#   PKG_GPGCHECK=1       also require a valid RPM signature by GPGKEY on every downloaded rpm
#                        (dnf download itself never checks package signatures; done with rpmkeys
#                        against a scratch rpmdb; GPGKEY must then be a local file)
#   RESOLVE=1            also require all dependencies of PKGNAME to resolve from THIS repo alone
#                        (dnf download --resolve; fails on unmet Requires)
#   ARCH=aarch64         --forcearch (check a repo for another architecture)
#   DEST=dir             copy the downloaded rpm(s) there
#   KEEP=1               keep the scratch dir (printed)
# Exit codes: 0 ok, 1 metadata unreadable / signature bad, 2 usage, 3 tool missing,
#             4 package not visible, 5 download or dependency resolution failed.
set -euo pipefail

die() { local rc=$1; shift; echo "FAIL: $*" >&2; exit "$rc"; }
[[ $# -eq 2 ]] || { echo "usage: $0 REPO_URL_OR_DIR PKGNAME" >&2; exit 2; }
REPO=$1 PKG=$2
command -v dnf >/dev/null || die 3 "dnf not installed (apt-get install dnf dnf-plugins-core)"
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import dnf.cli, dnfpluginscore' 2>/dev/null ||
  die 3 "dnf-plugins-core missing (apt-get install dnf-plugins-core) - needed for 'dnf download'"

case $REPO in
  file://* | http://* | https://*) URL=$REPO ;;
  *)
    [[ -d $REPO ]] || die 2 "$REPO is neither a directory nor a file/http(s) URL"
    [[ -f $REPO/repodata/repomd.xml ]] || die 1 "$REPO/repodata/repomd.xml missing (run createrepo_c $REPO)"
    URL="file://$(cd "$REPO" && pwd)"
    ;;
esac

W=$(mktemp -d "${TMPDIR:-/tmp}/check-yum.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then echo "scratch: $W" >&2; else trap 'rm -rf "$W"' EXIT; fi
mkdir -p "$W/root" "$W/dl"

if [[ -n ${REPOFILE:-} ]]; then
  [[ -f $REPOFILE ]] || die 2 "REPOFILE $REPOFILE not found"
  id=$(sed -n 's/^\[\(.*\)\]$/\1/p' "$REPOFILE" | head -1)
  [[ -n $id ]] || die 2 "REPOFILE $REPOFILE has no [repo-id] section"
  mkdir -p "$W/repos.d" && cp "$REPOFILE" "$W/repos.d/"
  repo_opts=(--setopt=reposdir="$W/repos.d" --disablerepo='*' --enablerepo="$id")
else
  [[ -n ${GPGKEY:-} ]] || die 2 "GPGKEY=<public key file or URL> is required: the repository's signature must verify"
  k=$GPGKEY
  [[ $k == *://* ]] || { [[ -f $k ]] || die 2 "GPGKEY $k not found"; k="file://$(cd "$(dirname "$k")" && pwd)/$(basename "$k")"; }
  repo_opts=(--setopt=reposdir=/dev/null --repofrompath=chk,"$URL" --disablerepo='*' --enablerepo=chk
    --setopt=chk.repo_gpgcheck=1 --setopt=chk.gpgkey="$k" --setopt=chk.gpgcheck="${PKG_GPGCHECK:-0}")
fi
if [[ ${PKG_GPGCHECK:-0} == 1 ]]; then
  [[ -n ${GPGKEY:-} && -f ${GPGKEY:-} ]] || die 2 "PKG_GPGCHECK=1 needs GPGKEY=<local key file>"
  rpmkeys --dbpath "$W/rpmdb" --import "$GPGKEY" || die 2 "rpmkeys cannot import $GPGKEY"
fi
printf '[main]\ninstall_weak_deps=0\nkeepcache=1\nmetadata_expire=0\nskip_if_unavailable=0\n' >"$W/dnf.conf"

# skip_if_unavailable=0 on the command line too: Debian's dnf.conf skips a repository that fails
# verification and exits 0, and this check must never pass that way
DNF=(dnf -y --installroot="$W/root" --releasever=1 --config="$W/dnf.conf" --setopt=skip_if_unavailable=0
  --disableplugin='*' --enableplugin=download "${repo_opts[@]}")
[[ -n ${ARCH:-} ]] && DNF+=(--forcearch="$ARCH")

# 1. metadata (repomd.xml, signature if GPGKEY, primary etc.)
if ! "${DNF[@]}" makecache >"$W/makecache.log" 2>&1; then
  sed 's/^/  dnf: /' "$W/makecache.log" >&2
  die 1 "dnf cannot load metadata from $URL"
fi
# 2. visibility
avail=$("${DNF[@]}" -q repoquery --available --qf '%{name}-%{evr}.%{arch}' "$PKG" 2>"$W/rq.err" || true)
[[ -n $avail ]] || { sed 's/^/  dnf: /' "$W/rq.err" >&2; die 4 "package '$PKG' not available in $URL (dnf repoquery --available found nothing)"; }
# 3. download (newest matching), optionally with dependency resolution inside this repo only
dl_opts=(--destdir="$W/dl")
[[ ${RESOLVE:-0} == 1 ]] && dl_opts+=(--resolve)
if ! "${DNF[@]}" download "${dl_opts[@]}" "$PKG" >"$W/dl.log" 2>&1; then
  sed 's/^/  dnf: /' "$W/dl.log" >&2
  die 5 "dnf download${RESOLVE:+ --resolve} of '$PKG' from $URL failed"
fi
shopt -s nullglob
files=("$W"/dl/*.rpm)
[[ ${#files[@]} -ge 1 ]] || die 5 "dnf download reported success but no .rpm in $W/dl"
for f in "${files[@]}"; do
  rpmkeys --dbpath "$W/rpmdb" -K --nosignature "$f" >/dev/null 2>&1 || die 5 "downloaded $(basename "$f") fails rpm digest check"
  if [[ ${PKG_GPGCHECK:-0} == 1 ]]; then
    out=$(rpmkeys --dbpath "$W/rpmdb" -Kv "$f" 2>&1 || true)
    grep -q 'Signature, key ID .*: OK' <<<"$out" && ! grep -qE 'NOKEY|BAD|NOTTRUSTED' <<<"$out" ||
      { sed 's/^/  rpmkeys: /' <<<"$out" >&2; die 5 "$(basename "$f") is not signed by GPGKEY (rpmkeys -K)"; }
  fi
done
if [[ -n ${DEST:-} ]]; then mkdir -p "$DEST"; cp -f "${files[@]}" "$DEST/"; fi
echo "OK: dnf sees $(echo "$avail" | tr '\n' ' ')in $URL and downloaded: $(for f in "${files[@]}"; do printf '%s ' "$(basename "$f")"; done)[repomd.xml signature verified]$([[ ${PKG_GPGCHECK:-0} == 1 ]] && echo '[package signatures verified]')"
