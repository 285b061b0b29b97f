#!/usr/bin/env bash
# Obtain kube-apiserver and etcd for the local control plane and cache them.
#
# etcd comes from Debian's etcd-server package. kube-apiserver is built from
# Debian's `kubernetes` source package (Debian ships no server binary), with the
# vendored modern-go/reflect2 1.0.1 replaced by Debian's 1.0.2: with Go 1.19 the
# old one crashes the server (`fatal error: fault` in mapiterinit).
#
# One `make` builds every Kubernetes binary the project runs: kube-apiserver for
# the local control plane, and kubelet, kube-controller-manager, kube-scheduler and
# kube-proxy for the one-node cluster (`make node-up`); the pause container's
# source (build/pause/linux/pause.c) is kept beside them.
#
# Result: $CACHE/bin/{etcd,kube-apiserver,kubelet,...} and $CACHE/src/pause.c.
# Idempotent: exits at once when everything is already cached.
set -euo pipefail

CACHE="${EO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/eligibility-operator}"
BIN="$CACHE/bin"
mkdir -p "$BIN"

log() { printf '[fetch-control-plane] %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  log "apt-get install ${missing[*]}"
  if [[ ! -f /var/lib/apt/periodic/eo-updated ]] || ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    apt-get update -qq
    mkdir -p /var/lib/apt/periodic && touch /var/lib/apt/periodic/eo-updated
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

if [[ ! -x "$BIN/etcd" ]]; then
  apt_install etcd-server
  ln -sf "$(command -v etcd || echo /usr/bin/etcd)" "$BIN/etcd"
fi

TARGETS=(kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy)
all_cached() {
  local t
  for t in "${TARGETS[@]}"; do [[ -x "$BIN/$t" ]] || return 1; done
  [[ -f "$CACHE/src/pause.c" ]]
}
if all_cached; then
  exit 0
fi

# One build at a time: a second caller (another worktree, a parallel test run) waits for the first
# instead of wiping its build directory, then finds the binary cached.
exec 9>"$CACHE/.build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if all_cached; then
  exit 0
fi

# deb822 format with the same Signed-By as Debian's own entry: apt refuses a
# one-line deb-src entry for the same URI with a conflicting Signed-By.
SRC_LIST=/etc/apt/sources.list.d/eligibility-operator-src.sources
if [[ ! -f "$SRC_LIST" ]]; then
  log "adding deb-src for bookworm main"
  printf 'Types: deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$SRC_LIST"
  rm -f /var/lib/apt/periodic/eo-updated /var/lib/apt/periodic/eo-src-updated
fi
apt_install golang-go rsync dpkg-dev golang-github-modern-go-reflect2-dev
if [[ ! -f /var/lib/apt/periodic/eo-src-updated ]]; then
  apt-get update -qq
  touch /var/lib/apt/periodic/eo-src-updated
fi

WORK="$CACHE/build"
rm -rf "$WORK" && mkdir -p "$WORK"
cd "$WORK"
log "apt-get source kubernetes"
apt-get source -qq --download-only kubernetes >/dev/null
dpkg-source --no-check -x kubernetes_*.dsc src >/dev/null
TREE="$WORK/src"

log "replacing vendored modern-go/reflect2 with Debian's 1.0.2"
R2="$TREE/vendor/github.com/modern-go/reflect2"
rm -rf "$R2" && mkdir -p "$R2"
cp -a /usr/share/gocode/src/github.com/modern-go/reflect2/. "$R2/"
find "$R2" -name '*_test.go' -delete

mkdir -p "$WORK/.go/src/k8s.io"
ln -sfn "$TREE" "$WORK/.go/src/k8s.io/kubernetes"
log "building ${TARGETS[*]} (8-10 minutes on 2 cores)"
(
  cd "$WORK/.go/src/k8s.io/kubernetes"
  export GOPATH="$WORK/.go" GO111MODULE=off CGO_ENABLED=0 GOCACHE="$WORK/.gocache" GOFLAGS=
  make WHAT="${TARGETS[*]/#/cmd/}" >"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log" >&2; exit 1; }
)
for t in "${TARGETS[@]}"; do
  install -m 0755 "$TREE/_output/bin/$t" "$BIN/$t.tmp"
  mv "$BIN/$t.tmp" "$BIN/$t"
done
mkdir -p "$CACHE/src"
cp "$TREE/build/pause/linux/pause.c" "$CACHE/src/pause.c"
cd / && rm -rf "$WORK"
log "cached ${TARGETS[*]} in $BIN"
