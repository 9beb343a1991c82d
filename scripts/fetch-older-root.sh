#!/usr/bin/env bash
# Builds a small real Debian 11 (bullseye, glibc 2.31) amd64 root filesystem
# for test/verdict-older-root.test.ts: this host's programs, built against a
# newer glibc, are run inside it under LD_TRACE_LOADED_OBJECTS to get the real
# loader's symbol-version verdict ("version `GLIBC_2.34' not found ...").
# Real packages from Debian's registry, unpacked with dpkg-deb -x (never
# installed on the host), laid out merged-/usr as usrmerge would (bullseye
# does not merge by default; the merged layout is harmless and keeps both
# fetch scripts' roots alike), with an ld.so.cache built by the root's own
# ldconfig (the host's glibc 2.36 ldconfig -r would write a cache in its own
# format and from its own idea of the hwcaps subdirectories).
#
# Usage: scripts/fetch-older-root.sh DEST
#        (the tests look in /var/cache/elfdeps-test/amd64-bullseye-root)
#
# Idempotent: when DEST holds a root built by this script from the same
# package list, it does nothing. Needs root (chroot), apt-get, dpkg-deb, and
# an amd64 host (the root's programs run natively). The apt state and the
# sources list live in a private temporary directory: the host's sources,
# package lists and installed packages are left as they were.
set -euo pipefail

me=fetch-older-root
die() { echo "$me: $*" >&2; exit 1; }
# shellcheck source=scripts/debian-root-lib.sh
. "$(dirname "$0")/debian-root-lib.sh"

[ $# -eq 1 ] || die "usage: $0 DEST"
dest=$1
case "$dest" in /*) ;; *) die "DEST must be an absolute path, got '$dest'" ;; esac
[ "$dest" != / ] || die "DEST must not be /"

suite=bullseye
arch=amd64
# deb.debian.org still serves bullseye (suite oldoldstable, LTS updates in
# bullseye-security); when it moves to archive.debian.org, change these two.
mirror=${ELFDEPS_BULLSEYE_MIRROR:-http://deb.debian.org/debian}
security_mirror=${ELFDEPS_BULLSEYE_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# The per-release keyrings from debian-archive-keyring: each verifies only
# the suites it names, so a bookworm key cannot stand in. The combined
# keyring is the fallback for an older debian-archive-keyring without them.
keyring_main=/usr/share/keyrings/debian-archive-bullseye-automatic.gpg
keyring_security=/usr/share/keyrings/debian-archive-bullseye-security-automatic.gpg
[ -f "$keyring_main" ] || keyring_main=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring_security" ] || keyring_security=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring_main" ] || die "no Debian archive keyring in /usr/share/keyrings (install debian-archive-keyring)"

# 43 packages, about 18 MB of .deb files (41 MB unpacked): the C and C++ runtime, the
# libraries this host's (bookworm) programs most often need, so that most of
# them get as far as the version check instead of stopping at "not found",
# and a few programs of the root's own (coreutils, bash, grep ...) whose
# libraries are all here. dash is also the /bin/sh the test's oracle runs in.
packages=(
  libc6 libc-bin libgcc-s1 libstdc++6 gcc-10-base
  dash bash coreutils grep sed findutils tar gzip
  libselinux1 libpcre2-8-0 libpcre3 libacl1 libattr1
  libtinfo6 libncursesw6 libreadline8
  zlib1g libzstd1 liblzma5 libbz2-1.0 liblz4-1 libcap2 libcap-ng0
  libssl1.1 libgmp10 libcrypt1 libexpat1 libsqlite3-0
  libmount1 libblkid1 libuuid1 libsmartcols1 libudev1 libsystemd0
  libgcrypt20 libgpg-error0 libpam0g libaudit1
)
marker="$dest/.elfdeps-older-root"
want_marker="suite=$suite arch=$arch packages=${packages[*]}"
interp=/lib64/ld-linux-x86-64.so.2
triplet=x86_64-linux-gnu

exit_if_built "$marker" "$want_marker" "the $suite $arch root"

[ "$(id -u)" -eq 0 ] || die "must run as root (it chroots into the new root to run its ldconfig)"
for tool in apt-get dpkg-deb chroot; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done
# The root's ldconfig and loader run natively: no qemu here.
[ "$(uname -m)" = x86_64 ] || die "the $arch root's programs must run natively, and this machine is $(uname -m)"

work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-older-root.XXXXXX")
stage="$dest.partial.$$"
cleanup() { rm -rf "$work" "$stage"; }
trap cleanup EXIT

# A private apt state with its own sources list: the host's sources are
# another release. apt.conf.d settings (proxies, Check-Valid-Until) are
# still the host's. SourceParts points at an empty directory so that none of
# the host's sources.list.d files is read.
mkdir -p "$work/sources.list.d"
cat >"$work/sources.list" <<EOF
deb [arch=$arch signed-by=$keyring_main] $mirror $suite main
deb [arch=$arch signed-by=$keyring_main] $mirror $suite-updates main
deb [arch=$arch signed-by=$keyring_security] $security_mirror $suite-security main
EOF
apt_opts=(
  -o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/sources.list.d"
  -o "Dir::State::Lists=$work/lists" -o "Dir::State::status=$work/status"
  -o "Dir::Cache=$work/cache" -o "APT::Architecture=$arch" -o "APT::Architectures::=$arch"
  -o Acquire::Languages=none -o Debug::NoLocking=1 -o APT::Sandbox::User=root
  -o Acquire::Retries=3
)
# A signature that does not verify is an index that did not arrive.
index_errors='Failed to fetch|Some index files failed|GPG error|The repository'
fetch_debs "$suite $arch" "cannot reach $suite on the Debian package registry ($mirror, $security_mirror): apt-get update and download failed (see above; has $suite moved to archive.debian.org? set ELFDEPS_BULLSEYE_MIRROR)"

unpack_merged
# dash's postinst would make /bin/sh; unpacking alone does not.
[ -e "$stage/usr/bin/sh" ] || ln -s dash "$stage/usr/bin/sh"
# The root's own ldconfig (static in Debian's libc-bin), inside the root: the
# cache the real system would have, no host file involved.
mkdir -p "$stage/etc" "$stage/var/cache/ldconfig"
chroot "$stage" /sbin/ldconfig -X || die "the $suite ldconfig failed inside the new root"
[ -s "$stage/etc/ld.so.cache" ] || die "ldconfig wrote no /etc/ld.so.cache"
# The programs' PT_INTERP must resolve inside the root and work there, and be glibc 2.31.
# The listing is captured whole before it is searched: piping it into
# `grep -q` under pipefail fails when grep exits at its first match and the
# loader then dies of SIGPIPE writing its next line (rc 141).
list_rc=0
listing=$(chroot "$stage" "$interp" --list /usr/bin/true 2>&1) || list_rc=$?
case "$listing" in
  *"libc.so.6 => /lib/$triplet/libc.so.6"*) [ "$list_rc" -eq 0 ] || die "the loader $interp --list exited $list_rc inside the new root: $listing" ;;
  *) die "the loader $interp does not work inside the new root (--list exited $list_rc): $listing" ;;
esac
# (ld.so --version came in 2.33; libc.so.6 run as a program prints its banner.)
# Captured whole, then its first line taken: `| head -n1` under pipefail
# fails when head exits before libc.so.6 has written its whole banner.
banner=$(chroot "$stage" "/lib/$triplet/libc.so.6") || die "libc.so.6 run as a program failed inside the new root: $banner"
version=${banner%%$'\n'*}
case "$version" in *"release version 2.31"*) ;; *) die "the root's loader is not glibc 2.31: $version" ;; esac

{
  echo "$want_marker"
  echo "$version"
  for deb in "$work"/debs/*.deb; do basename "$deb"; done
} >"$stage/.elfdeps-older-root"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$stage" "$dest"
echo "fetch-older-root: built the $suite $arch root in $dest ($(du -sh "$dest" | cut -f1))"
