# apt-mirror.sh - sourced by the scripts that add apt source entries
# (install-deps.sh: deb-src for bookworm; build-hdf5-114.sh: deb-src for
# trixie): the Debian archive URI, taken from the apt sources already
# configured on this machine, never written into a script.
# shellcheck shell=bash

# apt_debian_mirror: prints the URI of the first configured binary source
# that serves the main Debian archive (a suite without "-security"), from
# deb822 .sources files or one-line .list entries. Exits non-zero when none.
apt_debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # deb822 stanzas: print URIs of stanzas whose Suites has no -security.
    uri=$(awk '
      function flush() { if (!done && types ~ /(^| )deb( |$)/ && suites != "" && suites !~ /-security/ && uris != "") { print uris; done = 1; exit } types = suites = uris = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^[[:space:]]*#/ { next }
      tolower($1) == "types:" { types = ""; for (i = 2; i <= NF; i++) types = types " " $i; sub(/^ /, "", types) }
      tolower($1) == "suites:" { suites = $0 }
      tolower($1) == "uris:" { uris = $2 }
      END { flush() }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    uri=$(awk '$1 == "deb" && $0 !~ /-security/ {
        for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; exit } }' "$f")
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  echo "apt-mirror: no Debian archive entry in the configured apt sources" >&2
  return 1
}
