#!/usr/bin/env bash
# check-apt-repo.sh REPO_URL_OR_DIR PKGNAME
# Project copy (test support) of the repo-clients checker; used by test/support/repo-clients.ts.
#
# Acceptance check with the REAL apt client (apt-get/apt-cache, Debian 12).
# Exit 0 only if `apt-get update --error-on=any` succeeds, `apt-cache policy` shows a
# candidate for PKGNAME and `apt-get download` fetches it (apt verifies the hash chain
# InRelease/Release -> Packages -> .deb). All apt state lives in a scratch dir
# (own config via -c, own sources.list, lists, cache, empty dpkg status); the host's
# apt state is not read or written (only /etc/apt/apt.conf.d is parsed, which apt always does).
#
# REPO_URL_OR_DIR: a directory or file:/ http:// https:// URL. Layout:
#   flat repo (Release/InRelease + Packages at the top)  -> "deb URL ./"
#   dists layout                                          -> "deb URL SUITE COMPONENTS"
# For a directory the layout is auto-detected (one suite under dists/); for a URL set SUITE.
#
# Env:
#   SUITE=stable            use the dists layout with this suite (default: flat, or autodetect for dirs)
#   COMPONENTS="main"       components (default: from the suite's Release file, else main)
#   KEY=path                public key(s) (.asc armoured or binary .gpg), required: [signed-by=KEY], so the
#                           InRelease / Release.gpg signature must verify (a repository is never read on trust)
#   ARCH=arm64              client architecture (default: dpkg --print-architecture)
#   RESOLVE=1               also require `apt-get -s install PKGNAME` to succeed against this repo
#                           alone (empty dpkg status: every Depends must be in this repo)
#   DEST=dir                copy the downloaded .deb there
#   KEEP=1                  keep the scratch dir (printed)
# Exit codes: 0 ok, 1 update failed (signature, 404, bad Release), 2 usage, 3 tool missing,
#             4 package not visible, 5 download / dependency resolution failed.
set -euo pipefail

die() { local rc=$1; shift; echo "FAIL: $*" >&2; exit "$rc"; }
[[ $# -eq 2 ]] || { echo "usage: $0 REPO_URL_OR_DIR PKGNAME" >&2; exit 2; }
REPO=$1 PKG=$2
for t in apt-get apt-cache dpkg-deb; do command -v $t >/dev/null || die 3 "$t missing"; done

SUITE=${SUITE:-}
COMPONENTS=${COMPONENTS:-}
case $REPO in
  file:* | http://* | https://*) URL=$REPO ;;
  *)
    [[ -d $REPO ]] || die 2 "$REPO is neither a directory nor a file:/http(s) URL"
    D=$(cd "$REPO" && pwd)
    URL="file:$D"
    if [[ -z $SUITE && ! -f $D/Release && ! -f $D/InRelease && -d $D/dists ]]; then
      suites=()
      for s in "$D"/dists/*/; do [[ -f $s/Release || -f $s/InRelease ]] && suites+=("$(basename "$s")"); done
      [[ ${#suites[@]} -eq 1 ]] || die 2 "found ${#suites[@]} suites under $D/dists (${suites[*]:-none}); set SUITE="
      SUITE=${suites[0]}
    fi
    if [[ -n $SUITE && -z $COMPONENTS ]]; then
      rel=$D/dists/$SUITE/Release; [[ -f $rel ]] || rel=$D/dists/$SUITE/InRelease
      [[ -f $rel ]] && COMPONENTS=$(sed -n 's/^Components: *//p' "$rel" | head -1)
    fi
    ;;
esac
URL=${URL%/}
[[ -n $SUITE && -z $COMPONENTS ]] && COMPONENTS=main
ARCH=${ARCH:-$(dpkg --print-architecture)}

W=$(mktemp -d "${TMPDIR:-/tmp}/check-apt.XXXXXX")
if [[ ${KEEP:-0} == 1 ]]; then echo "scratch: $W" >&2; else trap 'rm -rf "$W"' EXIT; fi
mkdir -p "$W/state/lists/partial" "$W/cache/archives/partial" "$W/parts" "$W/prefs" "$W/dl" "$W/log"
: >"$W/status"

[[ -n ${KEY:-} ]] || die 2 "KEY=<public key file> is required: the repository's signature must verify"
[[ -f $KEY ]] || die 2 "KEY $KEY not found"
k="$(cd "$(dirname "$KEY")" && pwd)/$(basename "$KEY")"
case $k in *.asc | *.gpg) ;; *) cp "$k" "$W/key.asc" && k=$W/key.asc ;; esac # apt needs .asc/.gpg suffix
opts="arch=$ARCH signed-by=$k"
if [[ -n $SUITE ]]; then line="deb [$opts] $URL $SUITE $COMPONENTS"; else line="deb [$opts] $URL/ ./"; fi
echo "$line" >"$W/sources.list"

cat >"$W/apt.conf" <<EOF
Dir::Etc::SourceList "$W/sources.list";
Dir::Etc::SourceParts "$W/parts";
Dir::Etc::Preferences "$W/preferences";
Dir::Etc::PreferencesParts "$W/prefs";
Dir::Etc::Trusted "$W/trusted.gpg";
Dir::Etc::TrustedParts "$W/parts";
Dir::State "$W/state";
Dir::State::status "$W/status";
Dir::Cache "$W/cache";
Dir::Log "$W/log";
Debug::NoLocking "true";
APT::Architecture "$ARCH";
APT::Architectures { "$ARCH"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Retries "0";
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear Acquire::IndexTargets::deb::DEP-11;
#clear Acquire::IndexTargets::deb::DEP-11-icons;
#clear Acquire::IndexTargets::deb::DEP-11-icons-small;
#clear Acquire::IndexTargets::deb::DEP-11-icons-hidpi;
EOF
A=(-c "$W/apt.conf")

# 1. metadata: any warning (bad signature, 404, hash mismatch) is an error
if ! apt-get "${A[@]}" update --error-on=any >"$W/update.log" 2>&1; then
  sed 's/^/  apt: /' "$W/update.log" >&2
  die 1 "apt-get update failed for: $line"
fi
# 2. visibility
cand=$(apt-cache "${A[@]}" policy "$PKG" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -1)
[[ -n $cand && $cand != "(none)" ]] || die 4 "package '$PKG' has no candidate in: $line (apt-cache policy)"
# 3. optional dependency resolution against this repo alone
if [[ ${RESOLVE:-0} == 1 ]] && ! apt-get "${A[@]}" -s -q install "$PKG" >"$W/sim.log" 2>&1; then
  sed 's/^/  apt: /' "$W/sim.log" >&2
  die 5 "dependencies of '$PKG' do not resolve from this repo (apt-get -s install)"
fi
# 4. download (apt checks Size/SHA256 from Packages)
if ! (cd "$W/dl" && apt-get "${A[@]}" -q download "$PKG") >"$W/dl.log" 2>&1; then
  sed 's/^/  apt: /' "$W/dl.log" >&2
  die 5 "apt-get download $PKG failed from: $line"
fi
shopt -s nullglob
files=("$W"/dl/*.deb)
[[ ${#files[@]} -eq 1 ]] || die 5 "expected one .deb after apt-get download, got ${#files[@]}"
dpkg-deb --info "${files[0]}" >/dev/null 2>&1 || die 5 "downloaded $(basename "${files[0]}") is not a valid .deb"
if [[ -n ${DEST:-} ]]; then mkdir -p "$DEST"; cp -f "${files[0]}" "$DEST/"; fi
echo "OK: apt sees $PKG $cand via '$line' and downloaded $(basename "${files[0]}") [InRelease/Release.gpg signature verified]"
