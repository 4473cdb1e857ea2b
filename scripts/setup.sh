#!/usr/bin/env bash
# Installs what Keyward's tests and local runs need on a fresh machine: Debian packages (SoftHSM2, OpenSC) and the
# npm dependencies (which bring Node 24). The Go toolchain that builds the local control plane must already exist.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for package in softhsm2 opensc; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "installing ${missing[*]} with apt-get" >&2
  sudo_if_needed=()
  [[ $(id -u) -eq 0 ]] || sudo_if_needed=(sudo)
  "${sudo_if_needed[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_if_needed[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v go >/dev/null || { echo "Go is needed to build the local control plane (kube-apiserver, etcd)" >&2; exit 1; }

if [[ ! -x node_modules/.bin/node || package-lock.json -nt node_modules/.package-lock.json ]]; then
  echo "installing npm dependencies (npm ci)" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
