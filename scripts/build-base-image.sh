#!/usr/bin/env bash
# Builds the base images of issue 17's tests (images as input, `--from`):
# one OCI image index for linux/amd64 and linux/arm64/v8, each platform's
# image two gzip layers over a Debian 12 root made of real Debian packages.
#
#   layer 1  Debian 12 (bookworm) packages unpacked with dpkg-deb -x (never
#            installed on the host), merged-/usr as usrmerge lays it out (the
#            same code as scripts/fetch-foreign-root.sh), /etc/passwd and
#            /etc/group from base-passwd's masters (what its preinst does on a
#            new system: www-data is 33:33), an ld.so.cache from the root's own
#            ldconfig (under qemu for arm64), and /opt/app/{a,b,sub/d}.
#   layer 2  what a real upper layer does to a lower one (OCI image-spec
#            layer.md): whiteouts of a program (/usr/bin/.wh.tac), of a library
#            other programs of layer 1 need (LIBDIR/.wh.libsemanage.so.2:
#            passwd's useradd, userdel and usermod then miss it) and of a whole
#            directory (/usr/lib/python3.11/.wh.concurrent); an opaque
#            /opt/app/.wh..wh..opq with a new /opt/app/c; /srv/www and /data
#            owned by www-data (33:33) with /srv/www/index.html and its hard
#            link /srv/www/default.html.
#
# The layer tars are written by GNU tar (pax format, numeric owners, names
# sorted, mtimes clamped to $epoch, no "./" prefix), so the whiteouts are
# exactly the entries above; scripts/base-image-layout.py writes the OCI
# layout (blobs, configs, manifests, the nested index) and skopeo makes the
# archives from it. umoci unpack and skopeo inspect then check the result.
#
# Usage: scripts/build-base-image.sh DEST
#        (the tests look in /var/cache/elfdeps-test/base-image, or
#        $ELFDEPS_BASE_IMAGE)
# Writes under DEST:
#   oci/                     OCI image layout; index.json: ref "base" (the
#                            nested image index of both platforms), "base-amd64"
#                            and "base-arm64" (each platform's manifest)
#   all.oci-archive.tar      that layout as one tar (oci-archive:...:base)
#   amd64.oci-archive.tar    the amd64 image (ref "base")
#   amd64.docker-archive.tar the amd64 image, RepoTag localhost/base:amd64
#   unpacked/ARCH/           `umoci unpack` of each platform (rootfs/ is the
#                            merged tree, the --root the tests compare with)
#
# Idempotent: when DEST holds images built by this script from the same
# recipe, it does nothing. Needs root (chroot, and umoci unpack keeps owners),
# apt-get, dpkg-deb, qemu-aarch64-static, GNU tar, umoci, skopeo and
# /usr/bin/python3. The apt state lives in a private temporary directory.
set -euo pipefail

me=build-base-image
die() { echo "$me: $*" >&2; exit 1; }
# shellcheck source=scripts/debian-root-lib.sh
. "$(dirname "$0")/debian-root-lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

[ $# -eq 1 ] || die "usage: $0 DEST"
dest=$1
case "$dest" in /*) ;; *) die "DEST must be an absolute path, got '$dest'" ;; esac
[ "$dest" != / ] || die "DEST must not be /"

# The closure of bash coreutils dash python3 curl perl base-passwd passwd
# libc-bin under Depends and Pre-Depends (apt-get -s install
# --no-install-recommends with an empty status), 86 packages, about 40 MB of
# .deb files per architecture. Every package has the same name on arm64.
packages=(
  base-files base-passwd bash coreutils curl dash debconf debianutils dpkg
  gcc-12-base libacl1 libattr1 libaudit-common libaudit1 libbrotli1 libbz2-1.0
  libc-bin libc6 libcap-ng0 libcom-err2 libcrypt1 libcurl4 libdb5.3
  libdebconfclient0 libexpat1 libffi8 libgcc-s1 libgdbm-compat4 libgdbm6
  libgmp10 libgnutls30 libgssapi-krb5-2 libhogweed6 libidn2-0 libk5crypto3
  libkeyutils1 libkrb5-3 libkrb5support0 libldap-2.5-0 liblzma5 libmd0
  libncursesw6 libnettle8 libnghttp2-14 libnsl2 libp11-kit0 libpam-modules
  libpam-modules-bin libpam0g libpcre2-8-0 libperl5.36 libpsl5
  libpython3-stdlib libpython3.11-minimal libpython3.11-stdlib libreadline8
  librtmp1 libsasl2-2 libsasl2-modules-db libselinux1 libsemanage-common
  libsemanage2 libsepol2 libsqlite3-0 libssh2-1 libssl3 libtasn1-6 libtinfo6
  libtirpc-common libtirpc3 libunistring2 libuuid1 libzstd1 mawk media-types
  passwd perl perl-base perl-modules-5.36 python3 python3-minimal python3.11
  python3.11-minimal readline-common tar zlib1g
)
arches=(amd64 arm64)
# Every mtime later than this is clamped to it (and so is every file this
# script writes): the same packages give the same layer bytes.
epoch=1700000000
created=2023-11-14T22:13:20Z
# Bump when anything below changes what is written.
recipe=3
marker="$dest/.elfdeps-base-image"
want_marker="recipe=$recipe arches=${arches[*]} packages=${packages[*]}"

exit_if_built "$marker" "$want_marker" "the base images"

[ "$(id -u)" -eq 0 ] || die "must run as root (it chroots into the new roots to run their ldconfig, and umoci unpack keeps owners)"
for tool in apt-get dpkg-deb chroot qemu-aarch64-static tar gzip umoci skopeo /usr/bin/python3; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (.ci/run installs it)"
done
# Captured whole, then matched: `| head | grep -q` under pipefail can fail through SIGPIPE.
tar_version=$(tar --version)
case "$tar_version" in "tar (GNU tar)"*) ;; *) die "tar is not GNU tar (the layers are written with its pax options and --clamp-mtime)" ;; esac

top=$(mktemp -d "${TMPDIR:-/tmp}/$me.XXXXXX")
out="$dest.partial.$$"
cleanup() { rm -rf "$top" "$out"; }
trap cleanup EXIT
mkdir -p "$out" "$top/layers"

# A layer tar of DIR: every entry under DIR, names sorted and without "./",
# numeric owners as they are on disk, pax headers without atime/ctime.
write_layer() {
  local dir=$1 tarfile=$2
  (cd "$dir" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) >"$top/list"
  tar --create --file="$tarfile" --directory="$dir" --no-recursion --verbatim-files-from --files-from="$top/list" \
    --numeric-owner --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
    --mtime=@$epoch --clamp-mtime
}

build_root() {
  local arch=$1 triplet interp qemu=
  case "$arch" in
    amd64) triplet=x86_64-linux-gnu; interp=/lib64/ld-linux-x86-64.so.2; [ "$(uname -m)" = x86_64 ] || qemu=qemu-x86_64-static ;;
    arm64) triplet=aarch64-linux-gnu; interp=/lib/ld-linux-aarch64.so.1; qemu=qemu-aarch64-static ;;
  esac
  work="$top/$arch"
  stage="$work/root"
  host_sources_apt_opts "$arch"
  fetch_debs "$arch" "cannot reach the Debian package registry: apt-get update and download for $arch failed (see above)"
  unpack_merged
  record_dpkg_database
  # base-passwd's preinst copies its masters when /etc/passwd is missing.
  cp "$stage/usr/share/base-passwd/passwd.master" "$stage/etc/passwd"
  cp "$stage/usr/share/base-passwd/group.master" "$stage/etc/group"
  grep -q '^www-data:[^:]*:33:33:' "$stage/etc/passwd" || die "base-passwd's passwd.master has no www-data 33:33"
  mkdir -p "$stage/var/cache/ldconfig"
  local run=(chroot "$stage")
  if [ -n "$qemu" ]; then
    cp "$(command -v "$qemu")" "$stage/$qemu"
    run+=("/$qemu")
  fi
  "${run[@]}" /sbin/ldconfig -X || die "the $arch ldconfig failed inside the new root"
  [ -s "$stage/etc/ld.so.cache" ] || die "ldconfig wrote no /etc/ld.so.cache"
  # Its aux-cache records inode numbers and ctimes: different bytes each build.
  rm -f "$stage/var/cache/ldconfig/aux-cache"
  # Captured whole before it is searched (grep -q under pipefail: SIGPIPE).
  local listing list_rc=0
  listing=$("${run[@]}" "$interp" --list /usr/bin/python3.11 2>&1) || list_rc=$?
  case "$listing" in
    *"libc.so.6 => /lib/$triplet/libc.so.6"*) [ "$list_rc" -eq 0 ] || die "$interp --list /usr/bin/python3.11 exited $list_rc inside the $arch root: $listing" ;;
    *) die "the loader $interp does not work inside the $arch root (--list exited $list_rc): $listing" ;;
  esac
  [ -z "$qemu" ] || rm -f "$stage/$qemu"
  # The directory layer 2 makes opaque.
  mkdir -p "$stage/opt/app/sub"
  echo 'a from layer 1' >"$stage/opt/app/a"
  echo 'b from layer 1' >"$stage/opt/app/b"
  echo 'd from layer 1' >"$stage/opt/app/sub/d"
  # What layer 2 deletes must be there to delete.
  for f in usr/bin/tac "usr/lib/$triplet/libsemanage.so.2" usr/lib/python3.11/concurrent/futures/thread.py; do
    [ -f "$stage/$f" ] || die "the $arch root has no /$f for layer 2 to delete"
  done
  write_layer "$stage" "$top/layers/$arch-layer1.tar"

  # Layer 2. Its parent directories have layer 1's owner and mode (root,
  # 0755), so applying it changes nothing but what is listed above.
  local l2="$work/layer2"
  mkdir -p "$l2/usr/bin" "$l2/usr/lib/$triplet" "$l2/usr/lib/python3.11" "$l2/opt/app" "$l2/srv/www" "$l2/data"
  chmod 0755 "$l2" "$l2/usr" "$l2/usr/bin" "$l2/usr/lib" "$l2/usr/lib/$triplet" "$l2/usr/lib/python3.11" "$l2/opt" "$l2/opt/app" "$l2/srv"
  : >"$l2/usr/bin/.wh.tac"
  : >"$l2/usr/lib/$triplet/.wh.libsemanage.so.2"
  : >"$l2/usr/lib/python3.11/.wh.concurrent"
  : >"$l2/opt/app/.wh..wh..opq"
  echo 'c from layer 2' >"$l2/opt/app/c"
  printf '<!doctype html>\n<title>base</title>\n<p>hello from /srv/www</p>\n' >"$l2/srv/www/index.html"
  ln "$l2/srv/www/index.html" "$l2/srv/www/default.html"
  chmod 0644 "$l2"/usr/bin/.wh.tac "$l2/usr/lib/$triplet/.wh.libsemanage.so.2" "$l2"/usr/lib/python3.11/.wh.concurrent \
    "$l2"/opt/app/.wh..wh..opq "$l2"/opt/app/c "$l2"/srv/www/index.html
  chmod 0750 "$l2/srv/www" "$l2/data"
  chown -R 0:0 "$l2"
  chown 33:33 "$l2/srv/www" "$l2/srv/www/index.html" "$l2/data"
  write_layer "$l2" "$top/layers/$arch-layer2.tar"
  rm -rf "$stage" "$l2"
  {
    echo "$arch:"
    for deb in "$work"/debs/*.deb; do echo "  $(basename "$deb")"; done
  } >>"$top/debs.txt"
}

for arch in "${arches[@]}"; do build_root "$arch"; done

echo "$me: writing the OCI layout"
/usr/bin/python3 "$here/base-image-layout.py" "$out/oci" "$top/layers" "$created"

echo "$me: writing the archives"
skopeo copy --quiet oci:"$out/oci":base-amd64 oci-archive:"$out/amd64.oci-archive.tar":base
skopeo copy --quiet oci:"$out/oci":base-amd64 docker-archive:"$out/amd64.docker-archive.tar":localhost/base:amd64
(cd "$out/oci" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort) >"$top/list"
tar --create --file="$out/all.oci-archive.tar" --directory="$out/oci" --no-recursion --verbatim-files-from --files-from="$top/list" \
  --owner=0 --group=0 --numeric-owner --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  --mtime=@$epoch

# The result as its consumers see it.
echo "$me: checking the images with skopeo and umoci"
inspect_arch() { skopeo inspect --format '{{.Os}}/{{.Architecture}}' "$@"; }
for check in "linux/amd64 oci:$out/oci:base-amd64" "linux/arm64 oci:$out/oci:base-arm64" \
             "linux/amd64 --override-arch amd64 oci:$out/oci:base" \
             "linux/arm64 --override-arch arm64 --override-variant v8 oci:$out/oci:base" \
             "linux/amd64 oci-archive:$out/amd64.oci-archive.tar" "linux/amd64 docker-archive:$out/amd64.docker-archive.tar" \
             "linux/arm64 --override-arch arm64 --override-variant v8 oci-archive:$out/all.oci-archive.tar:base"; do
  read -r want args <<<"$check"
  # shellcheck disable=SC2086
  got=$(inspect_arch $args) || die "skopeo inspect $args failed"
  [ "$got" = "$want" ] || die "skopeo inspect $args says $got, not $want"
done
for arch in "${arches[@]}"; do
  case "$arch" in amd64) triplet=x86_64-linux-gnu ;; arm64) triplet=aarch64-linux-gnu ;; esac
  bundle="$out/unpacked/$arch"
  umoci unpack --image "$out/oci:base-$arch" "$bundle" >/dev/null || die "umoci unpack of base-$arch failed"
  r="$bundle/rootfs"
  for gone in usr/bin/tac "usr/lib/$triplet/libsemanage.so.2" usr/lib/python3.11/concurrent opt/app/a opt/app/sub; do
    [ ! -e "$r/$gone" ] || die "umoci unpack of base-$arch still has /$gone"
  done
  for kept in usr/bin/python3.11 usr/bin/curl usr/bin/perl usr/bin/bash usr/bin/cat opt/app/c; do
    [ -f "$r/$kept" ] || die "umoci unpack of base-$arch has no /$kept"
  done
  [ "$(stat -c %u:%g "$r/srv/www/index.html")" = 33:33 ] || die "/srv/www/index.html of base-$arch is not 33:33 after umoci unpack"
  [ "$(stat -c %i "$r/srv/www/index.html")" = "$(stat -c %i "$r/srv/www/default.html")" ] || die "/srv/www/default.html of base-$arch is not a hard link"
done

{
  echo "$want_marker"
  cat "$top/debs.txt"
} >"$out/.elfdeps-base-image"
rm -rf "$dest"
mkdir -p "$(dirname "$dest")"
mv "$out" "$dest"
echo "$me: built the base images in $dest ($(du -sh "$dest" | cut -f1))"
