#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what it needs, checks types, lint and generated files, then
# runs the unit tests and the integration tests against a real kube-apiserver + etcd, a real SoftHSM2 token and the
# cloud peers (moto, the Key Vault and Cloud KMS peers), then the chart checks.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

# The suite runs its own control plane, apart from one a developer may have running, and stops it at the end.
export KEYWARD_TESTENV_DIR="${KEYWARD_TESTENV_DIR:-$PWD/.testenv/test-suite}"
trap 'npm run -s testenv:down >/dev/null 2>&1 || true' EXIT

echo "== static checks" >&2
npm run -s typecheck
npm run -s lint

echo "== building and starting the local control plane" >&2
npm run -s testenv:up >&2

echo "== tests" >&2
# One runner for every file, one file at a time: integration tests share the control plane (some restart it).
npm exec -- node --test --test-concurrency=1 --test-reporter=spec \
  'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts'

# Seeded fault injection (SIGKILL, control plane restart, leader kill, a ceremony killed mid-step); the full run is
# npm run test:chaos -- --trials 50 (docs/development.md, Chaos tests).
echo "== chaos (bounded)" >&2
npm run -s test:chaos -- --trials 5 --seed 1023

# The Helm chart rendered and applied, the operator run with its exact arguments as its ServiceAccount, the image's
# production build, the Argo CD health checks (helm, promtool and glua are built once into ~/.cache/keyward/tools).
echo "== chart, image and GitOps checks" >&2
npm run -s chart:test

# Every PIN, share, activation secret and credential the tests recorded, searched for in every object the API server
# serves, in etcd read directly, and in the operators' captured logs and metrics: none may be found.
echo "== leak scan" >&2
npm run -s test:leaks
