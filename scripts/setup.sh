#!/usr/bin/env sh
# Installs what pcibot and its test suite need on a fresh Debian machine, and
# does nothing when it is all there (so it runs before every `npm test` and
# `npm run example` at the cost of a few checks):
#   - node modules (npm install from the lockfile);
#   - Debian packages: the kernel source, QEMU, busybox, the kernel build tools,
#     chromium (the report page's browser test drives it headless);
#   - the kernel tree: scripts/kernel-tree.sh (cached in ~/.cache/pcibot).
# Without root, missing packages are listed with the command to install them.
set -eu
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

if [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm install, not npm ci: the lockfile pins every version, but npm ci refuses
  # lockfiles that lack other platforms' optional packages (msgpackr-extract).
  log "installing node modules (npm install, as pinned by package-lock.json)"
  npm install --no-audit --no-fund --loglevel=error >&2
fi

PACKAGES="linux-source-6.12 xz-utils git qemu-system-x86 qemu-system-arm busybox-static build-essential flex bison bc libelf-dev libssl-dev ccache cpio gcc-aarch64-linux-gnu public-inbox b4 util-linux chromium"
missing=""
for p in $PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends $missing >&2
  else
    log "missing Debian packages:$missing"
    log "install them with: sudo apt-get install --no-install-recommends$missing"
    exit 1
  fi
fi

scripts/kernel-tree.sh >/dev/null
