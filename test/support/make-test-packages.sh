#!/usr/bin/env bash
# make-test-packages.sh OUTDIR [N]
# Project copy (test support) of the repo-clients recipe; used by test/support/packages.ts.
#
# Builds N tiny noarch RPMs and N tiny Architecture:all .debs fully offline
# (Debian 12: apt-get install rpm dpkg-dev tar coreutils), plus a bundle
# tarball with a sha256 manifest.
#
# Always produced (so N >= 3):
#   testpkg         plain package, one text file
#   testpkg-dep     Requires/Depends: testpkg (= VERSION)
#   testpkg-broken  Requires/Depends: testpkg-missing-capability (>= 99)  (never satisfiable)
# plus N-3 fillers named ${FILL_PREFIX}-0004 .. ${FILL_PREFIX}-NNNN (no deps).
#
# Output (OUTDIR is wiped of these paths first, so re-runs are idempotent):
#   OUTDIR/rpm/*.noarch.rpm
#   OUTDIR/deb/*_all.deb
#   OUTDIR/SHA256SUMS          sha256 of every package, paths relative to OUTDIR
#   OUTDIR/bundle.tar.gz       rpm/ deb/ SHA256SUMS
#
# Env knobs:
#   PKG_VERSION   (default 1.0.0)   upstream version of every package
#   PKG_RELEASE   (default 1)       RPM Release / Debian revision
#   FILL_PREFIX   (default testfill) name prefix of filler packages
#   FILL_START    (default 4)       first filler number (use to make "one more" packages)
#   CORE          (default 1)       0 = do not build the 3 core packages (only fillers)
#   JOBS          (default nproc)   parallel dpkg-deb builds
#   PAYLOAD_KB    (default 0)       add an incompressible, deterministic payload of this size to every
#                                   package (realistic sizes for metadata/promotion benchmarks)
#   SOURCE_DATE_EPOCH (default 1700000000) fixed timestamps -> reproducible output
set -euo pipefail

usage() { echo "usage: $0 OUTDIR [N]   (N >= 3 when CORE=1, default 3)" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
OUTDIR=$1
N=${2:-3}
[[ $N =~ ^[0-9]+$ ]] || usage
VER=${PKG_VERSION:-1.0.0}
REL=${PKG_RELEASE:-1}
PFX=${FILL_PREFIX:-testfill}
START=${FILL_START:-4}
CORE=${CORE:-1}
JOBS=${JOBS:-$(nproc)}
PAYLOAD_KB=${PAYLOAD_KB:-0}
[[ $PAYLOAD_KB =~ ^[0-9]+$ ]] || usage
[[ $PAYLOAD_KB == 0 ]] || command -v openssl >/dev/null || { echo "ERROR: PAYLOAD_KB needs openssl" >&2; exit 3; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}

for t in rpmbuild dpkg-deb sha256sum tar; do
  command -v "$t" >/dev/null || { echo "ERROR: $t missing (apt-get install rpm dpkg-dev)" >&2; exit 3; }
done

names=()
if [[ $CORE == 1 ]]; then
  [[ $N -ge 3 ]] || usage
  names=(testpkg testpkg-dep testpkg-broken)
  nfill=$((N - 3))
else
  nfill=$N
fi
for ((i = START; i < START + nfill; i++)); do names+=("$(printf '%s-%04d' "$PFX" "$i")"); done
[[ ${#names[@]} -ge 1 ]] || usage

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
rm -rf "$OUTDIR/rpm" "$OUTDIR/deb" "$OUTDIR/SHA256SUMS" "$OUTDIR/bundle.tar.gz" "$OUTDIR/.build"
mkdir -p "$OUTDIR/rpm" "$OUTDIR/deb" "$OUTDIR/.build"
W=$OUTDIR/.build
t0=$(date +%s.%N)

rpm_deps() { # name -> Requires line (or nothing)
  case $1 in
    testpkg-dep) echo "Requires: testpkg = $VER-$REL" ;;
    testpkg-broken) echo "Requires: testpkg-missing-capability >= 99" ;;
  esac
}
deb_deps() {
  case $1 in
    testpkg-dep) echo "Depends: testpkg (= $VER-$REL)" ;;
    testpkg-broken) echo "Depends: testpkg-missing-capability (>= 99)" ;;
  esac
}

# ---------- RPM: one spec, every package is a subpackage -> ONE rpmbuild run ----------
# (rpmbuild startup dominates; N subpackages in one run is ~100x faster than N runs)
main=${names[0]}
spec=$W/test.spec
{
  cat <<EOF
%define debug_package %{nil}
%define _build_id_links none
%define _source_payload w2.gzdio
%define _binary_payload w2.gzdio
%define use_source_date_epoch_as_buildtime 1
%define clamp_mtime_to_source_date_epoch 1
Name: $main
Version: $VER
Release: $REL
Summary: Test package $main
License: MIT
BuildArch: noarch
AutoReqProv: no
URL: https://example.invalid/$main
$(rpm_deps "$main")
%description
Tiny test package $main for repository client checks.
EOF
  for n in "${names[@]:1}"; do
    cat <<EOF
%package -n $n
Summary: Test package $n
AutoReqProv: no
$(rpm_deps "$n")
%description -n $n
Tiny test package $n for repository client checks.
EOF
  done
  echo '%install'
  echo 'mkdir -p %{buildroot}/usr/share/repo-test'
  echo 'cd %{buildroot}/usr/share/repo-test'
  # one file per package; a single printf loop keeps %install fast for N=1000
  printf 'for n in %s; do echo "$n %s-%s" > $n.txt; done\n' "${names[*]}" "$VER" "$REL"
  if [[ $PAYLOAD_KB != 0 ]]; then
    printf 'for n in %s; do openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:"$n" </dev/zero 2>/dev/null | head -c %sK > $n.bin; done\n' "${names[*]}" "$PAYLOAD_KB"
  fi
  echo '%files'
  echo "/usr/share/repo-test/$main.*"
  for n in "${names[@]:1}"; do
    printf '%%files -n %s\n/usr/share/repo-test/%s.*\n' "$n" "$n"
  done
} >"$spec"

rpmbuild -bb --quiet --nodeps \
  --define "_topdir $W/rpmbuild" \
  --define "_rpmdir $OUTDIR/rpm" \
  --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
  --define "_dbpath $W/rpmdb" \
  "$spec" >"$W/rpmbuild.log" 2>&1 || { cat "$W/rpmbuild.log" >&2; echo "ERROR: rpmbuild failed" >&2; exit 1; }
t1=$(date +%s.%N)

# ---------- DEB: dpkg-deb --build per package, JOBS in parallel ----------
printf '%s\n' "${names[@]}" >"$W/names"
export W VER REL OUTDIR PAYLOAD_KB
build_deb() {
  n=$1
  d=$W/deb/$n
  mkdir -p "$d/DEBIAN" "$d/usr/share/repo-test"
  echo "$n $VER-$REL" >"$d/usr/share/repo-test/$n.txt"
  if [[ $PAYLOAD_KB != 0 ]]; then
    openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:"$n" </dev/zero 2>/dev/null | head -c "${PAYLOAD_KB}K" >"$d/usr/share/repo-test/$n.bin" || true
  fi
  dep=""
  case $n in
    testpkg-dep) dep="Depends: testpkg (= $VER-$REL)" ;;
    testpkg-broken) dep="Depends: testpkg-missing-capability (>= 99)" ;;
  esac
  {
    echo "Package: $n"
    echo "Version: $VER-$REL"
    echo "Architecture: all"
    echo "Maintainer: Repo Test <repo-test@example.invalid>"
    echo "Installed-Size: $((PAYLOAD_KB + 1))"
    echo "Section: misc"
    echo "Priority: optional"
    [[ -n $dep ]] && echo "$dep"
    echo "Description: Test package $n"
    echo " Tiny test package for repository client checks."
  } >"$d/DEBIAN/control"
  dpkg-deb --root-owner-group -Zgzip -z1 --build "$d" "$OUTDIR/deb/${n}_${VER}-${REL}_all.deb" >/dev/null
}
export -f build_deb
xargs -a "$W/names" -P "$JOBS" -I{} bash -c 'build_deb "$@"' _ {}
t2=$(date +%s.%N)

# ---------- manifest + bundle ----------
(cd "$OUTDIR" && find rpm deb -type f \( -name '*.rpm' -o -name '*.deb' \) | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
tar -C "$OUTDIR" --sort=name --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 --numeric-owner \
  -czf "$OUTDIR/bundle.tar.gz" rpm deb SHA256SUMS
rm -rf "$W"
t3=$(date +%s.%N)

nr=$(find "$OUTDIR/rpm" -name '*.rpm' | wc -l)
nd=$(find "$OUTDIR/deb" -name '*.deb' | wc -l)
[[ $nr -eq ${#names[@]} && $nd -eq ${#names[@]} ]] || { echo "ERROR: built $nr rpm / $nd deb, expected ${#names[@]}" >&2; exit 1; }
awk -v n="${#names[@]}" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN{
  printf "built %d rpm + %d deb in %s\n", n, n, ENVIRON["OUTDIR"];
  printf "  rpm: %.2fs total, %.1f ms/pkg\n", b-a, (b-a)*1000/n;
  printf "  deb: %.2fs total, %.1f ms/pkg\n", c-b, (c-b)*1000/n;
  printf "  manifest+bundle: %.2fs\n", d-c }'
