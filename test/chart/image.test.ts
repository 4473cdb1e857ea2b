// What the container image runs, without a container engine: `npm run build`, then dist/ with the production
// dependencies only (npm ci --omit=dev, as the Dockerfile does) on Node 24, reconciling a ManagedKey on SoftHSM2.
// The production node_modules is cached per package-lock.json outside the repository.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rename, rm, symlink } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import type { ManagedKeyObject } from '../../src/api/v1alpha1/index.ts';
import { managedKeyType } from '../../src/controllers/managedkey/controller.ts';
import { imageNodeFlags } from '../fixtures/image-entrypoint.ts';
import { startOperator } from '../fixtures/operator-process.ts';
import type { OperatorProcess } from '../fixtures/operator-process.ts';
import { eventually } from '../support/eventually.ts';
import { managedKeyManifest, setUpSoftHsmBackend } from '../support/keyward.ts';
import type { SoftHsmSetup } from '../support/keyward.ts';
import { REPO_ROOT } from '../support/kube.ts';

const run = promisify(execFile);
const RUN = randomBytes(3).toString('hex');
const NAMESPACE = `image-${RUN}`;
const BACKEND = `image-${RUN}`;

/** node_modules as `npm ci --omit=dev` makes it for this package-lock.json, run by Node 24 (pkcs11js built for it). */
async function productionDependencies(): Promise<string> {
  const lock = await readFile(path.join(REPO_ROOT, 'package-lock.json'));
  const hash = createHash('sha256').update(lock).digest('hex').slice(0, 16);
  const cache = path.join(
    process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'),
    'keyward',
    'image-deps',
  );
  const dir = path.join(cache, hash);
  if (existsSync(path.join(dir, 'node_modules'))) return path.join(dir, 'node_modules');
  const partial = `${dir}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  for (const file of ['package.json', 'package-lock.json'])
    await cp(path.join(REPO_ROOT, file), path.join(partial, file));
  const npm = path.join(
    path.dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'bin',
    'npm-cli.js',
  );
  const npmCli = existsSync(npm) ? npm : '/usr/lib/node_modules/npm/bin/npm-cli.js';
  console.error(`[image] npm ci --omit=dev (once per package-lock.json; cached in ${cache})`);
  await run(process.execPath, [npmCli, 'ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: partial,
    maxBuffer: 16 * 1024 * 1024,
  });
  await rm(dir, { recursive: true, force: true });
  await rename(partial, dir);
  for (const entry of await readdir(cache)) {
    if (entry !== hash && !entry.includes('.partial-'))
      await rm(path.join(cache, entry), { recursive: true, force: true });
  }
  return path.join(dir, 'node_modules');
}

describe('the image contents (dist/ and production dependencies)', { timeout: 600_000 }, () => {
  let setup: SoftHsmSetup;
  let app: string;
  let operator: OperatorProcess | undefined;

  before(async () => {
    await run(
      process.execPath,
      [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: REPO_ROOT,
      },
    );
    // The image's /app: package.json, dist/ and the production node_modules, nothing else of the repository.
    app = await mkdtemp(path.join(tmpdir(), 'keyward-image-'));
    await cp(path.join(REPO_ROOT, 'package.json'), path.join(app, 'package.json'));
    await cp(path.join(REPO_ROOT, 'dist'), path.join(app, 'dist'), { recursive: true });
    await symlink(await productionDependencies(), path.join(app, 'node_modules'));
    setup = await setUpSoftHsmBackend(BACKEND, { namespace: NAMESPACE });
  });

  after(async () => {
    if (operator) {
      await setup.client.delete(managedKeyType, 'image-key', NAMESPACE).catch(() => undefined);
      await eventually('the ManagedKey to be gone', () =>
        setup.client.get(managedKeyType, 'image-key', NAMESPACE).then(
          () => false,
          () => true,
        ),
      ).catch(() => undefined);
      operator.child.kill('SIGTERM');
      await operator.exited;
    }
    await setup.cleanup();
    await rm(app, { recursive: true, force: true });
  });

  it('has no development dependency', async () => {
    const installed = JSON.parse(
      await readFile(path.join(app, 'node_modules', '.package-lock.json'), 'utf8'),
    ) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.entries(installed.packages).filter(([, entry]) => entry.dev === true);
    assert.deepEqual(devOnly, [], 'packages only dev dependencies need');
    for (const dev of ['typescript', 'eslint', 'prettier', 'node', 'typescript-eslint']) {
      assert.ok(
        !existsSync(path.join(app, 'node_modules', dev, 'package.json')),
        `${dev} is a dev dependency`,
      );
    }
    assert.ok(existsSync(path.join(app, 'node_modules', 'pkcs11js', 'package.json')));
  });

  it('starts from dist/main.js and reconciles a ManagedKey', async () => {
    operator = startOperator(
      'image-operator',
      [
        `--kubeconfig=${setup.kubeconfigPath}`,
        '--metrics-bind-address=127.0.0.1:0',
        '--health-probe-bind-address=127.0.0.1:0',
        `--leader-election-namespace=${NAMESPACE}`,
      ],
      {
        script: path.join(app, 'dist', 'main.js'),
        nodeFlags: imageNodeFlags(),
        env: { ...process.env, NODE_ENV: 'production' },
      },
    );
    await operator.waitForLog('the operator to lead', (l) => l.msg === 'acquired the lease; leading', 60_000);
    await setup.client.create(
      managedKeyType,
      managedKeyManifest('image-key', NAMESPACE, { backendRef: { name: BACKEND } }),
    );
    const key = await eventually(
      'the ManagedKey to be Ready',
      async () => {
        const k = await setup.client.get<ManagedKeyObject>(managedKeyType, 'image-key', NAMESPACE);
        return k.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? k : undefined;
      },
      60_000,
    );
    assert.equal(key.status?.currentVersion, 1);
    assert.ok(
      setup.softhsm.listObjects(setup.token).some((o) => o.label.startsWith(`${NAMESPACE}/image-key/`)),
    );
  });
});
