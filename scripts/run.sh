#!/usr/bin/env bash
# Runs Keyward locally on a fresh machine: installs what it needs, then a control plane, a SoftHSM2 token, the
# operator and the examples. Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A control plane of its own, apart from the one tests and `npm run testenv:up` use.
export KEYWARD_TESTENV_DIR="${KEYWARD_TESTENV_DIR:-$PWD/.testenv/run/controlplane}"
exec npm exec -- node scripts/run.ts
