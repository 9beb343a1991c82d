#!/usr/bin/env bash
# Builds a small real Debian root filesystem for a foreign architecture, for
# test/resolve-foreign-real.test.ts: real packages from Debian's registry,
# unpacked with dpkg-deb -x (never installed on the host), laid out merged-/usr
# as usrmerge would, with an ld.so.cache built by the TARGET's own ldconfig
# run under qemu-user (the host's ldconfig -r cannot: it skips every library
# of another machine, "is for unknown machine 183", and writes an empty cache).
#
# Usage: scripts/fetch-foreign-root.sh ARCH DEST     (ARCH: arm64, armhf, ppc64el or s390x)
#
# Idempotent: when DEST holds a root built by this script from the same
# package list, it does nothing. Needs root (chroot), apt-get, dpkg-deb and
# qemu-ARCH-static. The apt state lives in a private temporary directory:
# the host's dpkg architectures, package lists and installed packages are
# left as they were.
set -euo pipefail

me=fetch-foreign-root
die() { echo "$me: $*" >&2; exit 1; }
# shellcheck source=scripts/debian-root-lib.sh
. "$(dirname "$0")/debian-root-lib.sh"

[ $# -eq 2 ] || die "usage: $0 ARCH DEST"
arch=$1
dest=$2
case "$dest" in /*) ;; *) die "DEST must be an absolute path, got '$dest'" ;; esac
[ "$dest" != / ] || die "DEST must not be /"

case "$arch" in
  arm64) triplet=aarch64-linux-gnu; qemu=qemu-aarch64-static; interp=/lib/ld-linux-aarch64.so.1 ;;
  armhf) triplet=arm-linux-gnueabihf; qemu=qemu-arm-static; interp=/lib/ld-linux-armhf.so.3 ;;
  ppc64el) triplet=powerpc64le-linux-gnu; qemu=qemu-ppc64le-static; interp=/lib64/ld64.so.2 ;;
  s390x) triplet=s390x-linux-gnu; qemu=qemu-s390x-static; interp=/lib/ld64.so.1 ;;
  *) die "unsupported ARCH '$arch' (known: arm64 armhf ppc64el s390x, Debian 12's release architectures that qemu-user runs)" ;;
esac

# ~50 packages, about 25 MB of .deb files: a C and C++ runtime, programs with
# deep dependency graphs (util-linux -> libsystemd0 -> libgcrypt20 ...),
# libssl3's plugin directories (engines-3/, ossl-modules/) and man-db, whose
# programs reach their private library through DT_RUNPATH=/usr/lib/man-db,
# a directory neither the cache nor the default path knows. Every library
# these programs need is here, so the root is closed.
packages=(
  libc6 libc-bin libgcc-s1 libstdc++6 gcc-12-base
  bash coreutils grep sed tar gzip findutils diffutils xz-utils bzip2 zstd
  openssl man-db groff-base util-linux ncurses-bin sqlite3
  libtinfo6 libncursesw6 libreadline8 libselinux1 libpcre2-8-0 libacl1 libattr1
  libgmp10 libssl3 zlib1g libzstd1 liblzma5 libbz2-1.0 liblz4-1 libcap2
  libcap-ng0 libcrypt1 libgdbm6 libpipeline1 libseccomp2 libuchardet0
  libmount1 libblkid1 libsmartcols1 libuuid1 libudev1 libsystemd0
  libgcrypt20 libgpg-error0 libpam0g libaudit1 libsqlite3-0
)
marker="$dest/.elfdeps-foreign-root"
want_marker="arch=$arch packages=${packages[*]} dpkg-db=1"

exit_if_built "$marker" "$want_marker" "the $arch root"

[ "$(id -u)" -eq 0 ] || die "must run as root (it chroots into the new root to run the target's ldconfig)"
for tool in apt-get dpkg-deb chroot "$qemu"; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (qemu-user-static provides $qemu)"
done
qemu_path=$(command -v "$qemu")

work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-foreign-root.XXXXXX")
stage="$dest.partial.$$"
cleanup() { rm -rf "$work" "$stage"; }
trap cleanup EXIT

host_sources_apt_opts "$arch"
fetch_debs "$arch" "cannot reach the Debian package registry: apt-get update and download for $arch failed (see above)"

unpack_merged
record_dpkg_database
# The target's ldconfig (static in Debian's libc-bin) under qemu, inside the
# root: the cache the real system would have, no host file involved.
mkdir -p "$stage/etc" "$stage/var/cache/ldconfig"
cp "$qemu_path" "$stage/$qemu"
chroot "$stage" "/$qemu" /sbin/ldconfig -X || die "the $arch ldconfig failed under $qemu"
[ -s "$stage/etc/ld.so.cache" ] || die "ldconfig wrote no /etc/ld.so.cache"
# The programs' PT_INTERP must resolve inside the root and work there.
# The listing is captured whole before it is searched: piping it into
# `grep -q` under pipefail fails when grep exits at its first match and the
# loader then dies of SIGPIPE writing its next line (rc 141).
list_rc=0
listing=$(chroot "$stage" "/$qemu" "$interp" --list /usr/bin/true 2>&1) || list_rc=$?
case "$listing" in
  *"libc.so.6 => /lib/$triplet/libc.so.6"*) [ "$list_rc" -eq 0 ] || die "the loader $interp --list exited $list_rc inside the new root: $listing" ;;
  *) die "the loader $interp does not work inside the new root (--list exited $list_rc): $listing" ;;
esac
rm -f "$stage/$qemu"

{
  echo "$want_marker"
  for deb in "$work"/debs/*.deb; do basename "$deb"; done
} >"$stage/.elfdeps-foreign-root"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$stage" "$dest"
echo "fetch-foreign-root: built the $arch root in $dest ($(du -sh "$dest" | cut -f1))"
