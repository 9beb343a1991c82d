# Shared by scripts/fetch-foreign-root.sh and scripts/fetch-older-root.sh:
# download Debian packages with a private apt state, and unpack them into a
# merged-/usr root. Sourced, not run. The caller sets:
#   me          script name for messages
#   work        private temporary directory (lists/, cache/, debs/ are made here)
#   stage       directory to unpack into
#   apt_opts    array of apt -o options (the private state, architecture,
#               sources; host_sources_apt_opts sets it for the host's sources)
#   packages    array of package names
#   die         a function that prints its arguments and exits
# and, optionally, index_errors: an extended regex of apt update messages
# that mean an index did not arrive (default: fetch failures).

# Exits 0 when $dest already holds what the calling script builds from the
# same recipe: $1 is its marker file, $2 the first line the marker must
# hold, $3 what it holds (for the message). Dies when $dest holds something
# this script did not build. Needs $dest, $me and die.
exit_if_built() {
  local marker=$1 want=$2 what=$3
  if [ -f "$marker" ] && [ "$(head -n1 "$marker")" = "$want" ]; then
    echo "$me: $dest already holds $what"
    exit 0
  fi
  if [ -e "$dest" ] && [ ! -f "$marker" ] && [ -n "$(ls -A "$dest" 2>/dev/null || echo x)" ]; then
    die "$dest exists but was not built by this script (no $marker); remove it or choose another DEST"
  fi
}

# Sets apt_opts: a private apt state in $work whose native (and only)
# architecture is $1; the sources and apt.conf.d settings (proxies, mirrors)
# are the host's.
host_sources_apt_opts() {
  apt_opts=(
    -o "Dir::State::Lists=$work/lists" -o "Dir::State::status=$work/status"
    -o "Dir::Cache=$work/cache" -o "APT::Architecture=$1" -o "APT::Architectures::=$1"
    -o Acquire::Languages=none -o Debug::NoLocking=1 -o APT::Sandbox::User=root
    -o Acquire::Retries=3
  )
}

# apt-get update (three tries) and download of every package into $work/debs.
# $1 names what is fetched in messages ("arm64", "bullseye amd64"); $2 is the
# message when neither update nor download reached the registry.
fetch_debs() {
  local label=$1 unreachable=$2
  local errors=${index_errors:-'Failed to fetch|Some index files failed'}
  mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs"
  touch "$work/status"
  # A mirror in mid-sync can fail one index for a moment: try again, and go on
  # with what arrived when the packages themselves can still be downloaded.
  local index_ok=false attempt
  for attempt in 1 2 3; do
    echo "$me: fetching the $label package lists (attempt $attempt)"
    if apt-get -q "${apt_opts[@]}" update >"$work/update.log" 2>&1 &&
       ! grep -qE "^(W|E): ($errors)" "$work/update.log"; then
      index_ok=true
      break
    fi
    [ "$attempt" -eq 3 ] || sleep 5
  done
  $index_ok || { cat "$work/update.log" >&2; echo "$me: warning: some $label package lists failed (above); trying with the rest" >&2; }
  echo "$me: downloading ${#packages[@]} $label packages"
  (cd "$work/debs" && apt-get -q "${apt_opts[@]}" download "${packages[@]}") >"$work/download.log" 2>&1 || {
    cat "$work/download.log" >&2
    $index_ok || die "$unreachable"
    die "apt-get download of the $label packages failed (registry unreachable, or a package is gone; see above)"
  }
  local count
  count=$(find "$work/debs" -name '*.deb' | wc -l)
  [ "$count" -eq "${#packages[@]}" ] || die "expected ${#packages[@]} .deb files, got $count"
}

# Unpack each package into $stage, then merge /bin, /sbin, /lib (and /lib32,
# /lib64, /libx32 where present) into /usr and leave symlinks, as usrmerge does
# on an installed system (packages still ship files under /lib and /bin;
# dpkg-deb -x would replace a lib -> usr/lib symlink with a directory).
unpack_merged() {
  mkdir -p "$stage"
  local deb d
  for deb in "$work"/debs/*.deb; do
    dpkg-deb -x "$deb" "$stage"
  done
  # Documentation and translations are a third of the size and no loader reads them.
  rm -rf "$stage/usr/share/doc" "$stage/usr/share/man" "$stage/usr/share/info" "$stage/usr/share/locale"
  for d in bin sbin lib lib32 lib64 libx32; do
    if [ ! -e "$stage/$d" ]; then
      case "$d" in bin|sbin|lib) mkdir -p "$stage/usr/$d"; ln -s "usr/$d" "$stage/$d" ;; esac
      continue
    fi
    [ -L "$stage/$d" ] && die "$d in the unpacked packages is already a symlink"
    mkdir -p "$stage/usr/$d"
    # A file in both /X and /usr/X would make the merge ambiguous: stop there.
    (cd "$stage/$d" && find . ! -type d) | while read -r f; do
      if [ -e "$stage/usr/$d/$f" ] || [ -L "$stage/usr/$d/$f" ]; then die "both /$d/${f#./} and /usr/$d/${f#./} exist"; fi
    done
    cp -a "$stage/$d/." "$stage/usr/$d/"
    rm -rf "${stage:?}/$d"
    ln -s "usr/$d" "$stage/$d"
  done
}

# The dpkg database the packages would have had if installed (issue 18's
# tests read it as a real root's): var/lib/dpkg/status with each control
# paragraph marked "install ok installed", and info/NAME.list (every path in
# the package, as dpkg records it: "/." first, no trailing slash, paths as
# the package ships them, so /lib/... before the /usr merge) and
# info/NAME.md5sums (the package's own). NAME is PACKAGE:ARCH for Multi-Arch:
# same packages, as dpkg names them. Written from the .deb files, without
# running dpkg (maintainer scripts would not run for a foreign architecture).
record_dpkg_database() {
  local db="$stage/var/lib/dpkg" deb name ma arch info
  mkdir -p "$db/info" "$db/updates"
  # info/format 1: info files of Multi-Arch: same packages are named PACKAGE:ARCH (dpkg's infodb format).
  echo 1 >"$db/info/format"
  : >"$db/status"
  for deb in "$work"/debs/*.deb; do
    name=$(dpkg-deb -f "$deb" Package)
    arch=$(dpkg-deb -f "$deb" Architecture)
    ma=$(dpkg-deb -f "$deb" Multi-Arch)
    info=$name
    [ "$ma" = same ] && info="$name:$arch"
    dpkg-deb -f "$deb" | awk 'NR == 1 { print; print "Status: install ok installed"; next } { print }' >>"$db/status"
    echo >>"$db/status"
    dpkg-deb --fsys-tarfile "$deb" | tar -t --quoting-style=literal |
      sed -e 's#^\./$#/.#' -e 's#^\./#/#' -e 's#/$##' >"$db/info/$info.list"
    dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums >"$db/info/$info.md5sums" 2>/dev/null || rm -f "$db/info/$info.md5sums"
  done
}
