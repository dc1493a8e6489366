#!/usr/bin/env bash
# Prepare the real kernel tree pcibot reviews against: Debian's linux-source-6.12,
# unpacked and made into a git checkout with one commit. Idempotent and cached:
# a second run prints the path and commit and does nothing else.
#
#   scripts/kernel-tree.sh            prepare (install the package if needed), print "<path> <commit>"
#   PCIBOT_CACHE=/some/dir ...        where the tree lives (default ~/.cache/pcibot)
#
# Debian's package follows the 6.12 stable point releases (6.12.117, 6.12.118, ...):
# the tree is made from whichever one is installed, recorded in .git/pcibot-source
# and tagged v<version>-debian; a cached tree is kept when Debian moves on (a note
# says so) so that reviews keep one base until the cache is removed.
#
# The commit is made with a fixed author, committer and date so that the same
# tarball gives the same commit id on every machine.
set -euo pipefail

cache=${PCIBOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pcibot}
tree="$cache/linux-6.12"
tarball=/usr/src/linux-source-6.12.tar.xz
log() { printf 'kernel-tree: %s\n' "$*" >&2; }

# The Debian package version the tarball came from (e.g. 6.12.118-1), or empty.
package_version() { dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true; }

if [ -f "$tree/.pcibot-ready" ]; then
  # Debian's linux-source-6.12 follows the stable point releases; a tree made
  # from an older one stays as it is (reviews need a stable base) but says so.
  made_from=$(cat "$tree/.git/pcibot-source" 2>/dev/null || true)
  now=$(package_version)
  if [ -n "$now" ] && [ -n "$made_from" ] && [ "${made_from##* }" != "$now" ]; then
    log "$made_from; Debian now has linux-source-6.12 $now (remove $tree to remake the tree from it)"
  fi
  printf '%s %s\n' "$tree" "$(git -C "$tree" rev-parse HEAD)"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "$tarball is missing; install it with: sudo apt-get install linux-source-6.12"
    exit 1
  fi
  log "installing linux-source-6.12 from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends linux-source-6.12 xz-utils >&2
fi

mkdir -p "$cache"
work="$cache/.linux-6.12.partial.$$"
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
log "unpacking $tarball"
tar -xJf "$tarball" -C "$work" --strip-components=1

# Debian's tarball appends a block to the top-level .gitignore that ignores
# everything at the top level except debian/ (their packaging repository layout).
# Drop that block so the kernel's own rules apply and `git add -A` sees the source.
sed -i '/^# Debian packaging: ignore everything at the top level/,$d' "$work/.gitignore"
# The block opens with a bare "#" line, left behind by the cut above.
sed -i '${/^#$/d}' "$work/.gitignore"
if grep -qx '/\*' "$work/.gitignore"; then
  log "unexpected .gitignore shape: a top-level '/*' rule is still there"
  exit 1
fi

version=$(make -s -C "$work" kernelversion 2>/dev/null || sed -n 's/^SUBLEVEL = //p' "$work/Makefile")
log "making a git checkout of linux $version"
export GIT_AUTHOR_NAME="pcibot" GIT_AUTHOR_EMAIL="pcibot@localhost" \
  GIT_COMMITTER_NAME="pcibot" GIT_COMMITTER_EMAIL="pcibot@localhost" \
  GIT_AUTHOR_DATE="2000-01-01T00:00:00Z" GIT_COMMITTER_DATE="2000-01-01T00:00:00Z"
git -C "$work" init -q -b master
git -C "$work" config core.autocrlf false
git -C "$work" add -A
# No background auto-gc (it would still be repacking when the tree is first
# used); pack explicitly instead, so object reads are fast from the start.
git -C "$work" -c gc.auto=0 commit -q -m "Linux $version (Debian linux-source-6.12)"
log "packing objects"
git -C "$work" repack -adq
git -C "$work" tag "v$version-debian"

rm -rf "$tree"
mv "$work" "$tree"
trap - EXIT
# Which point release the tree was made from: the kernel version and the Debian
# package version, e.g. "linux 6.12.118 from Debian linux-source-6.12 6.12.118-1".
printf 'linux %s from Debian linux-source-6.12 %s\n' "$version" "$(package_version)" >"$tree/.git/pcibot-source"
touch "$tree/.pcibot-ready"
# The marker must not show up as an untracked change in the checkout.
echo ".pcibot-ready" >> "$tree/.git/info/exclude"
commit=$(git -C "$tree" rev-parse HEAD)
log "ready: $tree at $commit, $(cat "$tree/.git/pcibot-source") ($(git -C "$tree" ls-files | wc -l) files)"
printf '%s %s\n' "$tree" "$commit"
