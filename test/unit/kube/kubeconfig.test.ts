import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { dump } from 'js-yaml';

import { KubeConfigError, kubeConfigFromObject, loadKubeConfig } from '../../../src/kube/config.ts';
import type { KubeConfig } from '../../../src/kube/config.ts';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'kubeconfig-'));

/** A kubeconfig of one cluster, user and context ("c", "u", "x"). */
function kubeconfig(
  cluster: Record<string, unknown>,
  user: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'c', cluster }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  };
}

function writeYaml(path: string, document: unknown): string {
  writeFileSync(path, dump(document));
  return path;
}

const fromFile = (path: string, now?: () => number): KubeConfig =>
  loadKubeConfig({ path, env: {}, ...(now ? { now } : {}) }).kubeConfig;

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** A clock the test moves. */
function clock(): { now: () => number; advance: (ms: number) => void } {
  let time = Date.parse('2030-01-01T00:00:00Z');
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('kubeconfig files', () => {
  it('merges a KUBECONFIG list like kubectl: the first file to name an entry or a current-context wins', async () => {
    const dir = scratch();
    const first = writeYaml(join(dir, 'first.yaml'), {
      clusters: [{ name: 'shared', cluster: { server: 'https://first:6443' } }],
      users: [{ name: 'shared-user', user: { token: 'first-token' } }],
      contexts: [{ name: 'ctx-first', context: { cluster: 'shared', user: 'shared-user' } }],
    });
    const second = writeYaml(join(dir, 'second.yaml'), {
      clusters: [
        { name: 'shared', cluster: { server: 'https://second:6443' } },
        { name: 'only-second', cluster: { server: 'https://only-second:6443' } },
      ],
      users: [{ name: 'shared-user', user: { token: 'second-token' } }],
      contexts: [{ name: 'ctx-second', context: { cluster: 'only-second' } }],
      'current-context': 'ctx-first',
    });
    const merged = loadKubeConfig({ env: { KUBECONFIG: `${first}:${second}` } });
    assert.equal(
      merged.server,
      'https://first:6443',
      "the second file's current-context, the first's cluster",
    );
    assert.equal((await merged.kubeConfig.requestOptions()).headers.authorization, 'Bearer first-token');

    const third = writeYaml(join(dir, 'third.yaml'), { 'current-context': 'ctx-second' });
    const fromThird = loadKubeConfig({ env: { KUBECONFIG: `${third}:${first}:${second}` } });
    assert.equal(fromThird.server, 'https://only-second:6443', 'the first current-context set wins');
    assert.deepEqual((await fromThird.kubeConfig.requestOptions()).headers, {}, 'a context without a user');
  });

  it('resolves relative paths against the kubeconfig file’s directory, and prefers *-data to files', async () => {
    const dir = scratch();
    mkdirSync(join(dir, 'conf', 'certs'), { recursive: true });
    writeFileSync(join(dir, 'conf', 'ca.pem'), 'CA FROM FILE');
    writeFileSync(join(dir, 'conf', 'certs', 'client.pem'), 'CERT FROM FILE');
    writeFileSync(join(dir, 'conf', 'certs', 'client.key'), 'KEY FROM FILE');
    writeFileSync(join(dir, 'conf', 'token'), 'token-from-file\n');
    const files = writeYaml(
      join(dir, 'conf', 'files.yaml'),
      kubeconfig(
        { server: 'https://k:6443', 'certificate-authority': 'ca.pem', 'tls-server-name': 'api.internal' },
        { 'client-certificate': 'certs/client.pem', 'client-key': './certs/client.key', tokenFile: 'token' },
      ),
    );
    const fromFiles = await fromFile(files).requestOptions();
    assert.equal(fromFiles.ca?.toString(), 'CA FROM FILE');
    assert.equal(fromFiles.cert?.toString(), 'CERT FROM FILE');
    assert.equal(fromFiles.key?.toString(), 'KEY FROM FILE');
    assert.equal(fromFiles.headers.authorization, 'Bearer token-from-file');
    assert.equal(fromFiles.servername, 'api.internal');
    assert.equal(fromFiles.rejectUnauthorized, true);

    const both = writeYaml(
      join(dir, 'conf', 'both.yaml'),
      kubeconfig(
        {
          server: 'https://k:6443',
          'certificate-authority': 'ca.pem',
          'certificate-authority-data': b64('CA DATA'),
          'insecure-skip-tls-verify': true,
        },
        {
          'client-certificate': 'certs/client.pem',
          'client-certificate-data': b64('CERT DATA'),
          'client-key': 'certs/client.key',
          'client-key-data': b64('KEY DATA'),
          username: 'admin',
          password: 'pw',
        },
      ),
    );
    const fromData = await fromFile(both).requestOptions();
    assert.deepEqual(
      [fromData.ca?.toString(), fromData.cert?.toString(), fromData.key?.toString()],
      ['CA DATA', 'CERT DATA', 'KEY DATA'],
    );
    assert.equal(fromData.rejectUnauthorized, false);
    assert.equal(fromData.headers.authorization, `Basic ${b64('admin:pw')}`);
  });

  it('builds a configuration from an object, refusing one without a current context or with a proxy', () => {
    const config = kubeConfigFromObject({
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      contexts: [{ name: 'x', context: { cluster: 'c' } }],
      'current-context': 'x',
    });
    assert.equal(config.server, 'https://127.0.0.1:1');
    assert.throws(
      () => kubeConfigFromObject({ clusters: [{ name: 'c', cluster: { server: 'https://a' } }] }),
      { name: 'KubeConfigError', message: /has no current context\/cluster/ },
    );
    assert.throws(
      () =>
        kubeConfigFromObject({
          clusters: [
            { name: 'c', cluster: { server: 'https://a', 'proxy-url': 'http://user:proxy-pw@proxy:3128' } },
          ],
          contexts: [{ name: 'x', context: { cluster: 'c' } }],
          'current-context': 'x',
        }),
      (err: unknown) =>
        err instanceof KubeConfigError &&
        /sets proxy-url, which Keyward does not support/.test(err.message) &&
        !err.message.includes('proxy-pw'),
    );
  });

  it('refuses auth-provider users, saying to use an exec plugin', () => {
    const file = writeYaml(
      join(scratch(), 'config'),
      kubeconfig(
        { server: 'https://k:6443' },
        { 'auth-provider': { name: 'gcp', config: { 'access-token': 'provider-secret' } } },
      ),
    );
    assert.throws(
      () => fromFile(file),
      (err: unknown) =>
        err instanceof KubeConfigError &&
        /auth-provider "gcp".*not support.*exec plugin/.test(err.message) &&
        !err.message.includes('provider-secret'),
    );
  });

  it('never puts a secret in an error message', () => {
    const dir = scratch();
    const broken = join(dir, 'broken.yaml');
    writeFileSync(
      broken,
      [
        'clusters: [{name: c, cluster: {server: "https://k"}}]',
        'users:',
        '- name: u',
        '  user:',
        '    token: yaml-secret-token',
        '    client-key-data: "yaml-secret-key',
        'current-context: x',
      ].join('\n'),
    );
    const numeric = writeYaml(
      join(dir, 'numeric.yaml'),
      kubeconfig({ server: 'https://k' }, { token: 987654321 }),
    );
    for (const [file, secret, reason] of [
      [broken, 'yaml-secret', /invalid YAML at line \d+/],
      [numeric, '987654321', /user "u"\.token is not a string/],
    ] as const) {
      assert.throws(
        () => fromFile(file),
        (err: unknown) =>
          err instanceof KubeConfigError &&
          err.message.startsWith(`cannot load kubeconfig file ${file}`) &&
          reason.test(err.message) &&
          !err.message.includes(secret),
      );
    }
  });
});

describe('in-cluster configuration', () => {
  it('reaches the kubernetes Service (IPv6 in brackets) and re-reads the rotating token after a minute', async () => {
    const root = scratch();
    const saDir = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, 'token'), 'bound-token-1');
    writeFileSync(join(saDir, 'ca.crt'), 'CLUSTER CA');
    const time = clock();
    const loaded = loadKubeConfig({
      env: { KUBERNETES_SERVICE_HOST: 'fd00:10::1', KUBERNETES_SERVICE_PORT: '443' },
      home: root,
      inClusterRoot: root,
      now: time.now,
    });
    assert.equal(loaded.source, 'in-cluster service account');
    assert.equal(loaded.server, 'https://[fd00:10::1]:443');
    const authorization = async (): Promise<string | undefined> =>
      (await loaded.kubeConfig.requestOptions()).headers.authorization;
    assert.equal(await authorization(), 'Bearer bound-token-1');
    assert.equal((await loaded.kubeConfig.requestOptions()).ca?.toString(), 'CLUSTER CA');

    writeFileSync(join(saDir, 'token'), 'bound-token-2');
    time.advance(30_000);
    assert.equal(await authorization(), 'Bearer bound-token-1', 'read at most once a minute');
    time.advance(31_000);
    assert.equal(await authorization(), 'Bearer bound-token-2', 'the rotated token, read again');
  });
});

describe('exec plugins', () => {
  /** A plugin printing an ExecCredential with a token numbered by its run, and recording what it was given. */
  function plugin(dir: string, body: string): void {
    const script = join(dir, 'bin', 'plugin.sh');
    mkdirSync(join(dir, 'bin'), { recursive: true });
    writeFileSync(script, `#!/bin/sh\n${body}\n`);
    chmodSync(script, 0o755);
  }

  const execUser = (apiVersion: string, expiry?: string): Record<string, unknown> => ({
    exec: {
      apiVersion,
      command: './bin/plugin.sh',
      args: ['--first', 'second arg'],
      env: [{ name: 'PLUGIN_EXPIRY', value: expiry ?? '' }],
      provideClusterInfo: true,
      interactiveMode: 'IfAvailable',
    },
  });

  it('runs the plugin, keeps its token until expirationTimestamp, then runs it again', async () => {
    const dir = scratch();
    plugin(
      dir,
      [
        'echo run >> "$(dirname "$0")/runs"',
        'printf "%s\\n" "$@" > "$(dirname "$0")/args"',
        'printf "%s" "$KUBERNETES_EXEC_INFO" > "$(dirname "$0")/info"',
        'n=$(wc -l < "$(dirname "$0")/runs" | tr -d " ")',
        'echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",' +
          '\\"status\\":{\\"token\\":\\"exec-token-$n\\",\\"expirationTimestamp\\":\\"$PLUGIN_EXPIRY\\"}}"',
      ].join('\n'),
    );
    const file = writeYaml(
      join(dir, 'config'),
      kubeconfig(
        { server: 'https://k:6443', 'certificate-authority-data': b64('CA') },
        execUser('client.authentication.k8s.io/v1', '2030-01-01T00:10:00Z'),
      ),
    );
    const time = clock();
    // A cwd elsewhere: the command's relative path is the kubeconfig directory's.
    const config = fromFile(file, time.now);
    const authorization = async (): Promise<string | undefined> =>
      (await config.requestOptions()).headers.authorization;
    const runs = (): number => readFileSync(join(dir, 'bin', 'runs'), 'utf8').split('\n').length - 1;

    const [a, b] = await Promise.all([authorization(), authorization()]);
    assert.deepEqual([a, b], ['Bearer exec-token-1', 'Bearer exec-token-1']);
    assert.equal(runs(), 1, 'concurrent requests share one run');
    assert.deepEqual(readFileSync(join(dir, 'bin', 'args'), 'utf8').split('\n'), [
      '--first',
      'second arg',
      '',
    ]);
    const info = JSON.parse(readFileSync(join(dir, 'bin', 'info'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(info, {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      spec: {
        interactive: false,
        cluster: {
          server: 'https://k:6443',
          'certificate-authority-data': b64('CA'),
          'insecure-skip-tls-verify': false,
        },
      },
    });

    time.advance(9 * 60_000);
    assert.equal(await authorization(), 'Bearer exec-token-1', 'cached before expiry');
    assert.equal(runs(), 1);
    time.advance(60_000);
    assert.equal(await authorization(), 'Bearer exec-token-2', 'run again once expired');
    assert.equal(runs(), 2);
    config.unauthorized();
    assert.equal(await authorization(), 'Bearer exec-token-3', 'run again after a 401');
  });

  it('takes a client certificate from a v1beta1 plugin and keeps it without an expiry', async () => {
    const dir = scratch();
    plugin(
      dir,
      'echo run >> "$(dirname "$0")/runs"\n' +
        `echo '${JSON.stringify({
          apiVersion: 'client.authentication.k8s.io/v1beta1',
          kind: 'ExecCredential',
          status: { clientCertificateData: 'EXEC CERT', clientKeyData: 'EXEC KEY' },
        })}'`,
    );
    const file = writeYaml(
      join(dir, 'config'),
      kubeconfig({ server: 'https://k:6443' }, execUser('client.authentication.k8s.io/v1beta1')),
    );
    const time = clock();
    const config = fromFile(file, time.now);
    const first = await config.requestOptions();
    assert.deepEqual([first.cert, first.key, first.headers], ['EXEC CERT', 'EXEC KEY', {}]);
    time.advance(24 * 3_600_000);
    await config.requestOptions();
    assert.equal(readFileSync(join(dir, 'bin', 'runs'), 'utf8'), 'run\n');
  });

  it('says clearly when a plugin fails, without what it printed', async () => {
    const cases = [
      ['echo \'{"status":{"token":"printed-secret"}}\'; exit 3', /plugin\.sh\) exited with code 3$/],
      ['echo "not json printed-secret"', /printed something that is not JSON$/],
      [
        'echo \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientKeyData":"printed-secret"}}\'',
        /clientKeyData without the other$/,
      ],
    ] as const;
    for (const [body, reason] of cases) {
      const dir = scratch();
      plugin(dir, body);
      const file = writeYaml(
        join(dir, 'config'),
        kubeconfig({ server: 'https://k:6443' }, execUser('client.authentication.k8s.io/v1')),
      );
      await assert.rejects(
        fromFile(file).requestOptions(),
        (err: unknown) =>
          err instanceof KubeConfigError &&
          err.message.startsWith('the exec plugin of user "u"') &&
          reason.test(err.message) &&
          !err.message.includes('printed-secret'),
      );
    }
    const missing = writeYaml(
      join(scratch(), 'config'),
      kubeconfig(
        { server: 'https://k:6443' },
        {
          exec: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: 'keyward-no-such-plugin',
            installHint: 'install it with: brew install it',
          },
        },
      ),
    );
    await assert.rejects(fromFile(missing).requestOptions(), {
      name: 'KubeConfigError',
      message: /keyward-no-such-plugin\) cannot be run \(ENOENT\): install it with: brew install it$/,
    });
  });
});
