// npm run chart:test: the Helm chart against the real control plane and the real operator.
// - helm lint and helm template, with the defaults and with every optional part on;
// - the rendered chart applied with server-side dry-run (the API server validates every object);
// - the chart's ServiceAccount and RBAC applied for real, and the operator (src/main.ts) started with the
//   Deployment's exact arguments under a kubeconfig that impersonates that ServiceAccount: it must win the Lease,
//   connect to a SoftHSM2 token with the PIN from a Secret, generate a ManagedKey, publish its public keys and record
//   events, so a verb missing from the chart's RBAC fails here;
// - promtool checks the PrometheusRule, and every metric the alerts and the dashboard read is one the running
//   operator exports;
// - the Argo CD health checks (gopher-lua) and kstatus (what Flux's health checks compute) read the real objects.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { dump, load, loadAll } from 'js-yaml';

import { ensureControlPlane } from '../../scripts/testenv/controlplane.ts';
import type { ManagedKeyObject } from '../../src/api/v1alpha1/index.ts';
import { keyBackendType } from '../../src/controllers/keybackend/controller.ts';
import { keyCeremonyType } from '../../src/controllers/keyceremony/context.ts';
import { managedKeyType } from '../../src/controllers/managedkey/controller.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import type { KubeObject } from '../../src/kube/object.ts';
import { builtinResources } from '../../src/kube/resource.ts';
import { startOperator } from '../fixtures/operator-process.ts';
import type { OperatorProcess } from '../fixtures/operator-process.ts';
import { keyBackendManifest, managedKeyManifest, setUpSoftHsmBackend } from '../support/keyward.ts';
import type { SoftHsmSetup } from '../support/keyward.ts';
import { eventually } from '../support/eventually.ts';
import { CHART_DIR, chartTools, everyOption, findObject, helm, helmTemplate, setArgs } from './helm.ts';
import type { Tools } from './helm.ts';
import { kstatus } from './kstatus.ts';
import { argoHealth } from './lua.ts';
import { exportedFamilies, metricNames } from './promql.ts';

const run = promisify(execFile);
const RUN = randomBytes(3).toString('hex');
const RELEASE = `kw-${RUN}`;
const RELEASE_NAMESPACE = `keyward-${RUN}`;
const KEY_NAMESPACE = `chart-keys-${RUN}`;
const BACKEND = `chart-${RUN}`;
const FULLNAME = `${RELEASE}-keyward`;
const MAIN = path.join(import.meta.dirname, '..', '..', 'src', 'main.ts');

const EVERYTHING = everyOption(KEY_NAMESPACE);

interface Container {
  args: string[];
  securityContext: Record<string, unknown>;
}
interface Deployment extends KubeObject {
  spec: {
    replicas: number;
    template: { spec: { securityContext: Record<string, unknown>; containers: Container[] } };
  };
}
interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface PrometheusRule extends KubeObject {
  spec: { groups: { name: string; rules: Rule[] }[] };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('the Helm chart', { timeout: 600_000 }, () => {
  let tools: Tools;
  let kubectl: string;
  let adminKubeconfig: string;
  let client: KubeClient;
  let setup: SoftHsmSetup;
  let work: string;
  let operator: OperatorProcess | undefined;
  let ports: { metrics: number; health: number };

  const kubectlRun = (args: readonly string[], input?: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const child = execFile(
        kubectl,
        ['--kubeconfig', adminKubeconfig, ...args],
        { maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) reject(new Error(`kubectl ${args.join(' ')}: ${stderr || error.message}`));
          else resolve(stdout);
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });

  before(async () => {
    tools = await chartTools();
    const controlPlane = await ensureControlPlane({
      log: (line) => {
        console.error(`[testenv] ${line}`);
      },
    });
    kubectl = controlPlane.kubectl;
    adminKubeconfig = controlPlane.kubeconfig;
    setup = await setUpSoftHsmBackend(BACKEND, { namespace: KEY_NAMESPACE });
    client = setup.client;
    work = await mkdtemp(path.join(tmpdir(), 'keyward-chart-'));
    ports = { metrics: await freePort(), health: await freePort() };
    await kubectlRun(['create', 'namespace', RELEASE_NAMESPACE]);
  });

  after(async () => {
    if (operator) {
      await client.delete(managedKeyType, 'signing', KEY_NAMESPACE).catch(() => undefined);
      await eventually('the ManagedKey to be gone', () =>
        client.get(managedKeyType, 'signing', KEY_NAMESPACE).then(
          () => false,
          () => true,
        ),
      ).catch(() => undefined);
      operator.child.kill('SIGTERM');
      await operator.exited;
    }
    await setup.cleanup();
    await kubectlRun([
      'delete',
      '--ignore-not-found',
      '--wait=false',
      `clusterrole/${FULLNAME}`,
      `clusterrolebinding/${FULLNAME}`,
      `namespace/${RELEASE_NAMESPACE}`,
      `namespace/${KEY_NAMESPACE}`,
    ]).catch(() => undefined);
    await rm(work, { recursive: true, force: true });
  });

  it('passes helm lint, with the defaults and with every optional part on', async () => {
    await helm(tools, ['lint', '--strict', CHART_DIR]);
    await helm(tools, ['lint', '--strict', CHART_DIR, ...setArgs(EVERYTHING)]);
  });

  it('refuses values its schema does not allow', async () => {
    const refused: Record<string, string | boolean>[] = [
      { 'pkcs11.library.source': 'hostPath' },
      { 'leaderElection.enabled': false },
      { logLevel: 'verbose' },
      { 'leaderElection.leaseDuration': 'fifteen' },
    ];
    for (const values of refused) {
      await assert.rejects(
        helmTemplate(tools, RELEASE, RELEASE_NAMESPACE, values),
        /schema|required/,
        JSON.stringify(values),
      );
    }
  });

  it('runs the operator locked down: non-root, no privilege escalation, no capabilities, read-only root', async () => {
    const { objects } = await helmTemplate(tools, RELEASE, RELEASE_NAMESPACE, EVERYTHING);
    const deployment = findObject(objects, 'Deployment') as Deployment;
    const pod = deployment.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.deepEqual(pod.securityContext.seccompProfile, { type: 'RuntimeDefault' });
    for (const container of pod.containers) {
      assert.equal(container.securityContext.allowPrivilegeEscalation, false);
      assert.equal(container.securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(container.securityContext.capabilities, { drop: ['ALL'] });
    }
    assert.ok(
      objects.every(
        (o) => !['Role', 'ClusterRole'].includes(o.kind ?? '') || !/"\*"|\*/.test(JSON.stringify(o)),
      ),
    );
  });

  it('is accepted by the API server (server-side dry-run of every object)', async () => {
    // The monitoring.coreos.com kinds need the Prometheus Operator's CRDs, which this control plane does not have;
    // promtool checks the rule below.
    const { yaml } = await helmTemplate(tools, RELEASE, RELEASE_NAMESPACE, {
      ...EVERYTHING,
      'serviceMonitor.enabled': false,
      'prometheusRule.enabled': false,
    });
    const out = await kubectlRun(['apply', '--server-side', '--dry-run=server', '-f', '-'], yaml);
    for (const kind of [
      'customresourcedefinition',
      'deployment',
      'clusterrole',
      'networkpolicy',
      'poddisruptionbudget',
    ]) {
      assert.match(
        out,
        new RegExp(`^${kind}(\\.[\\w.]+)?/\\S+ serverside-applied \\(server dry run\\)$`, 'm'),
      );
    }
  });

  it("grants the operator, started with the Deployment's arguments as its ServiceAccount, all it needs to reconcile a key", async () => {
    const { objects } = await helmTemplate(tools, RELEASE, RELEASE_NAMESPACE, {
      'metrics.port': ports.metrics,
      'health.port': ports.health,
    });
    const rbac = objects.filter((o) =>
      ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind ?? ''),
    );
    await kubectlRun(['apply', '--server-side', '-f', '-'], rbac.map((o) => `---\n${dump(o)}`).join(''));

    const serviceAccount = findObject(objects, 'ServiceAccount').metadata.name ?? '';
    const subject = `system:serviceaccount:${RELEASE_NAMESPACE}:${serviceAccount}`;
    // The API server's RBAC authorizer learns new bindings from its informers a moment after they are stored: the
    // operator starts only once both the namespaced Role (the Lease) and the ClusterRole (the keys) are in effect.
    await eventually('the chart RBAC to be in effect', async () => {
      const answers = await Promise.all(
        [
          // create: update is granted on the operator's own Lease name only, so `can-i update` without it says no.
          ['create', 'leases.coordination.k8s.io', '-n', RELEASE_NAMESPACE],
          ['watch', 'managedkeys.keyward.io', '--all-namespaces'],
        ].map((args) => kubectlRun(['auth', 'can-i', ...args, `--as=${subject}`]).catch(() => 'no')),
      );
      return answers.every((answer) => answer.trim() === 'yes');
    });
    const kubeconfig = load(await readFile(adminKubeconfig, 'utf8')) as {
      users: { user: Record<string, unknown> }[];
    };
    for (const { user } of kubeconfig.users) user.as = subject;
    const impersonating = path.join(work, 'kubeconfig');
    await writeFile(impersonating, dump(kubeconfig), { mode: 0o600 });

    const deployment = findObject(objects, 'Deployment') as Deployment;
    const [container] = deployment.spec.template.spec.containers;
    assert.ok(container);
    assert.ok(container.args.includes('--leader-elect=true'));
    operator = startOperator('chart-operator', [...container.args, `--kubeconfig=${impersonating}`], {
      script: MAIN,
    });
    await operator.waitForLog('the operator to lead', (l) => l.msg === 'acquired the lease; leading', 60_000);

    await client.create(
      managedKeyType,
      managedKeyManifest('signing', KEY_NAMESPACE, {
        backendRef: { name: BACKEND },
        rotation: { period: '720h', retainVersions: 2 },
        distribution: { publicKey: { configMapName: 'signing-public' } },
      }),
    );
    const key = await eventually(
      'the ManagedKey to be Ready',
      async () => {
        const k = await client.get<ManagedKeyObject>(managedKeyType, 'signing', KEY_NAMESPACE);
        return k.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? k : undefined;
      },
      60_000,
    );
    assert.equal(key.status?.currentVersion, 1);
    const configMaps = await client.list<KubeObject>(builtinResources.configMaps, {
      namespace: KEY_NAMESPACE,
      labelSelector: 'app.kubernetes.io/managed-by=keyward',
    });
    assert.equal(configMaps.items.length, 1, 'the public keys were published');
    const events = await client.list<KubeObject & { reason?: string }>(builtinResources.events, {
      namespace: KEY_NAMESPACE,
    });
    assert.ok(events.items.length > 0, 'the operator recorded events');
    // \b: a port such as 38403 in a log line is not a refusal.
    const forbidden = operator.logs.filter((l) => /forbidden|\b403\b/i.test(JSON.stringify(l)));
    assert.deepEqual(forbidden, [], 'no request of the operator was refused');
  });

  it('has alerts promtool accepts, reading only metrics the running operator exports', async () => {
    assert.ok(operator, 'the operator runs (previous test)');
    const { objects } = await helmTemplate(tools, RELEASE, RELEASE_NAMESPACE, EVERYTHING);
    const rule = findObject(objects, 'PrometheusRule') as PrometheusRule;
    const rulesFile = path.join(work, 'keyward.rules.yaml');
    await writeFile(rulesFile, dump({ groups: rule.spec.groups }));
    const { stdout } = await run(tools.promtool, ['check', 'rules', rulesFile]);
    assert.match(stdout, /SUCCESS: \d+ rules found/);

    const alerts = rule.spec.groups.flatMap((g) => g.rules).map((r) => r.alert);
    for (const wanted of [
      'KeywardKeyRotationOverdue',
      'KeywardBackendNotReady',
      'KeywardKeyMissing',
      'KeywardCeremonyExpired',
      'KeywardReconcileErrors',
    ]) {
      assert.ok(alerts.includes(wanted), `alert ${wanted}`);
    }

    const dashboard = JSON.parse(
      (
        findObject(objects, 'ConfigMap', `${FULLNAME}-dashboard`) as KubeObject & {
          data: Record<string, string>;
        }
      ).data['keyward.json'] ?? '',
    ) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    const queries = [
      ...rule.spec.groups.flatMap((g) =>
        g.rules.map((r) => ({ where: `alert ${r.alert ?? r.record ?? ''}`, expr: r.expr })),
      ),
      ...dashboard.panels.flatMap((p) =>
        p.targets.map((t) => ({ where: `panel "${p.title}"`, expr: t.expr })),
      ),
    ];

    await operator.url('metrics');
    const exposition = await (await fetch(`http://127.0.0.1:${ports.metrics}/metrics`)).text();
    const exported = exportedFamilies(exposition);
    const unknown = queries.flatMap(({ where, expr }) =>
      [...metricNames(expr)].filter((name) => !exported.has(name)).map((name) => `${where}: ${name}`),
    );
    assert.deepEqual(unknown, [], 'metrics the operator does not export');
    // The keys' and backends' own series are there with values, not only declared.
    assert.match(exposition, new RegExp(`^keyward_backend_ready\\{backend="${BACKEND}"\\} 1$`, 'm'));
    assert.match(exposition, /^keyward_key_rotation_overdue\{namespace="[^"]+",name="signing"\} 0$/m);
  });

  it('has Argo CD health checks that read real objects right (docs/argocd, in gopher-lua)', async () => {
    assert.ok(operator, 'the operator runs');
    const key = await client.get(managedKeyType, 'signing', KEY_NAMESPACE);
    assert.equal((await argoHealth(tools.glua, 'managedkey', key)).status, 'Healthy');
    const unseen = managedKeyManifest('unseen', KEY_NAMESPACE, { backendRef: { name: BACKEND } });
    assert.equal((await argoHealth(tools.glua, 'managedkey', unseen)).status, 'Progressing');
    const backend = await client.get(keyBackendType, BACKEND);
    assert.equal((await argoHealth(tools.glua, 'keybackend', backend)).status, 'Healthy');

    const broken = `${BACKEND}-no-pin`;
    await client.create(
      keyBackendType,
      keyBackendManifest(broken, { namespace: KEY_NAMESPACE, token: setup.token, secretName: 'absent' }),
    );
    try {
      const failing = await eventually('the KeyBackend without its Secret to be not Ready', async () => {
        const kb = await client.get<
          KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
        >(keyBackendType, broken);
        return kb.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'False')
          ? kb
          : undefined;
      });
      const health = await argoHealth(tools.glua, 'keybackend', failing);
      assert.equal(health.status, 'Degraded');
      assert.match(health.message, /^SecretNotFound: /);
    } finally {
      await client.delete(keyBackendType, broken, undefined);
    }
    for (const [phase, status] of [
      ['Completed', 'Healthy'],
      ['Expired', 'Degraded'],
      ['AwaitingQuorum', 'Suspended'],
      ['Running', 'Progressing'],
    ]) {
      const ceremony = {
        apiVersion: 'keyward.io/v1alpha1',
        kind: 'KeyCeremony',
        metadata: { name: 'c', generation: 1 },
        status: { phase },
      };
      assert.equal((await argoHealth(tools.glua, 'keyceremony', ceremony)).status, status, phase);
    }
  });

  it('has the status Flux computes (kstatus) follow Ready, observedGeneration and Stalled', async () => {
    assert.ok(operator, 'the operator runs');
    const ready = await client.get<ManagedKeyObject>(managedKeyType, 'signing', KEY_NAMESPACE);
    const backend = await client.get(keyBackendType, BACKEND);
    // What the API server returns right after `kubectl apply`, before the operator has seen the object.
    const created = await client.create(
      managedKeyType,
      managedKeyManifest('fresh', KEY_NAMESPACE, { backendRef: { name: BACKEND } }),
    );
    // A spec edited since the last reconcile: the generation is ahead of status.observedGeneration.
    const edited = {
      ...ready,
      metadata: { ...ready.metadata, generation: (ready.metadata.generation ?? 1) + 1 },
    };
    // A key that can never be made on this backend (FIPS level 1): phase Failed.
    await client.create(
      managedKeyType,
      managedKeyManifest('too-weak', KEY_NAMESPACE, {
        backendRef: { name: BACKEND },
        protection: { minFipsLevel: 3 },
      } as Partial<ManagedKeyObject['spec']> & Pick<ManagedKeyObject['spec'], 'backendRef'>),
    );
    const failed = await eventually('the key the backend is too weak for to fail', async () => {
      const k = await client.get<ManagedKeyObject>(managedKeyType, 'too-weak', KEY_NAMESPACE);
      return k.status?.phase === 'Failed' ? k : undefined;
    });
    // A ceremony that fails: its KeyBackend does not exist.
    const [example] = (
      loadAll(
        await readFile(
          path.join(import.meta.dirname, '..', '..', 'examples', 'keyceremony-root-ca.yaml'),
          'utf8',
        ),
      ) as (KubeObject & { spec?: Record<string, unknown> })[]
    ).filter((o) => o.kind === 'KeyCeremony');
    assert.ok(example?.spec);
    const ceremony = {
      ...example,
      metadata: { name: 'no-backend', namespace: KEY_NAMESPACE },
      spec: { ...example.spec, backendRef: { name: `${BACKEND}-absent` } },
    };
    await client.create(keyCeremonyType, ceremony);
    const failedCeremony = await eventually('the ceremony without a KeyBackend to fail', async () => {
      const c = await client.get<KubeObject & { status?: { phase?: string } }>(
        keyCeremonyType,
        'no-backend',
        KEY_NAMESPACE,
      );
      return c.status?.phase === 'Failed' ? c : undefined;
    });

    const results = await kstatus(tools.kstatus, [ready, backend, created, edited, failed, failedCeremony]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['Current', 'Current', 'InProgress', 'InProgress', 'Failed', 'Failed'],
      JSON.stringify(results),
    );
    assert.match(results[4]?.message ?? '', /FIPS 140 level 3/);
    for (const name of ['fresh', 'too-weak']) await client.delete(managedKeyType, name, KEY_NAMESPACE);
  });
});
