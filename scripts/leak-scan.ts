// The leak scan, run after the whole suite: every secret the tests used (test/support/test-secrets.ts recorded them
// in the control plane's state directory) is searched for in everything the suite left behind:
//   - every object of every resource the API server lists, in all namespaces, except Secrets (where the tests put
//     credentials on purpose; the operator never creates one);
//   - etcd itself, read directly rather than through the API server (every key but /registry/secrets/);
//   - the operators' logs and the metrics text the test fixtures captured, and the control plane's own log.
// Events are objects, so they are in the first list. Prints where each secret was found (by its label, never its
// value) and exits 1 if any was.
//   node scripts/leak-scan.ts
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ensureControlPlane } from './testenv/controlplane.ts';
import { stateDir, stateFiles } from './testenv/paths.ts';

const run = promisify(execFile);

export interface RecordedSecret {
  label: string;
  forms: string[];
}

export interface Leak {
  /** What the secret is (its label). */
  secret: string;
  /** Where it was found: `api <resource> <namespace>/<name>`, `etcd <key>` or `file <path>:<line>`. */
  where: string;
}

export function readRecordedSecrets(dir = stateDir()): RecordedSecret[] {
  const file = join(dir, 'test-secrets.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as RecordedSecret);
}

/** The secrets in `text`, as leaks at `where`. */
function search(text: string, secrets: readonly RecordedSecret[], where: string): Leak[] {
  return secrets
    .filter((secret) => secret.forms.some((form) => text.includes(form)))
    .map((secret) => ({ secret: secret.label, where }));
}

interface Listed {
  items: { metadata?: { name?: string; namespace?: string } }[];
}

async function apiObjects(kubectl: string, kubeconfig: string, secrets: RecordedSecret[]): Promise<Leak[]> {
  const kube = (...args: string[]) =>
    run(kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { maxBuffer: 512 * 1024 * 1024 });
  const { stdout } = await kube('api-resources', '--verbs=list', '-o', 'name');
  const resources = stdout.split('\n').filter((name) => name !== '' && name !== 'secrets');
  const leaks: Leak[] = [];
  for (const resource of resources) {
    const listed = JSON.parse(
      (await kube('get', resource, '--all-namespaces', '-o', 'json')).stdout,
    ) as Listed;
    for (const item of listed.items) {
      const { name = '', namespace } = item.metadata ?? {};
      const where = `api ${resource} ${namespace === undefined ? '' : `${namespace}/`}${name}`;
      leaks.push(...search(JSON.stringify(item), secrets, where));
    }
  }
  return leaks;
}

interface RangeResponse {
  kvs?: { key: string; value?: string }[];
  more?: boolean;
}

/** Every key and value in etcd, through its JSON gateway on the loopback client port (no TLS in the testenv). */
async function etcdContents(
  dir: string,
  secrets: RecordedSecret[],
): Promise<{ leaks: Leak[]; keys: number }> {
  const { etcdClient } = JSON.parse(readFileSync(stateFiles(dir).ports, 'utf8')) as { etcdClient: number };
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  const leaks: Leak[] = [];
  let keys = 0;
  let from = '\u0000';
  for (;;) {
    const response = await fetch(`http://127.0.0.1:${String(etcdClient)}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: base64(from), range_end: base64('\u0000'), limit: 500 }),
    });
    if (!response.ok) throw new Error(`etcd range: ${String(response.status)} ${await response.text()}`);
    const page = (await response.json()) as RangeResponse;
    const kvs = page.kvs ?? [];
    for (const kv of kvs) {
      const key = Buffer.from(kv.key, 'base64').toString('utf8');
      keys += 1;
      if (key.startsWith('/registry/secrets/')) continue;
      // Values are JSON (custom resources) or protobuf (built-in kinds), whose strings are stored as they are.
      const value = Buffer.from(kv.value ?? '', 'base64').toString('latin1');
      leaks.push(...search(value, secrets, `etcd ${key}`));
    }
    const last = kvs.at(-1);
    if (!page.more || last === undefined) break;
    from = `${Buffer.from(last.key, 'base64').toString('utf8')}\u0000`;
  }
  return { leaks, keys };
}

function capturedFiles(dir: string, secrets: RecordedSecret[]): { leaks: Leak[]; files: number } {
  const captured = join(dir, 'captured');
  const files = [
    stateFiles(dir).log,
    ...(existsSync(captured) ? readdirSync(captured).map((f) => join(captured, f)) : []),
  ].filter((file) => existsSync(file));
  const leaks: Leak[] = [];
  for (const file of files) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        leaks.push(...search(line, secrets, `file ${file}:${String(i + 1)}`));
      });
  }
  return { leaks, files: files.length };
}

export interface ScanResult {
  secrets: number;
  etcdKeys: number;
  files: number;
  leaks: Leak[];
}

export async function scanForLeaks(log: (line: string) => void = () => undefined): Promise<ScanResult> {
  const dir = stateDir();
  const secrets = readRecordedSecrets(dir);
  const controlPlane = await ensureControlPlane({ log });
  const api = await apiObjects(controlPlane.kubectl, controlPlane.kubeconfig, secrets);
  const etcd = await etcdContents(dir, secrets);
  const files = capturedFiles(dir, secrets);
  return {
    secrets: secrets.length,
    etcdKeys: etcd.keys,
    files: files.files,
    leaks: [...api, ...etcd.leaks, ...files.leaks],
  };
}

if (import.meta.main) {
  const started = performance.now();
  const result = await scanForLeaks((line) => process.stderr.write(`${line}\n`));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  for (const leak of result.leaks) process.stderr.write(`LEAK: ${leak.secret} in ${leak.where}\n`);
  process.stderr.write(
    `leak scan: ${String(result.secrets)} recorded secrets searched in the API server's objects, ${String(result.etcdKeys)} etcd keys and ${String(result.files)} captured files in ${seconds}s: ${result.leaks.length === 0 ? 'none found' : `${String(result.leaks.length)} found`}\n`,
  );
  if (result.secrets === 0) {
    process.stderr.write(
      'leak scan: no secrets were recorded; run it after the tests, with the same KEYWARD_TESTENV_DIR\n',
    );
    process.exitCode = 1;
  }
  if (result.leaks.length > 0) process.exitCode = 1;
}
