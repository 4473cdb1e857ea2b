import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** The Go module that builds keyward-controlplane and kubectl. */
export const moduleDir = join(repoRoot, 'hack', 'controlplane');

/** Where the control plane keeps its certificates, ports, etcd data, kubeconfig and log. */
export function stateDir(): string {
  return resolve(process.env.KEYWARD_TESTENV_DIR || join(repoRoot, '.testenv'));
}

/** Built binaries live outside the repository, so clean clones and worktrees share them. */
export function buildCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'keyward', 'controlplane');
}

/** Files in the state directory; keyward-controlplane (hack/controlplane/state.go) writes them. */
export function stateFiles(dir: string) {
  return {
    pid: join(dir, 'controlplane.pid'),
    ports: join(dir, 'ports.json'),
    kubeconfig: join(dir, 'kubeconfig'),
    log: join(dir, 'controlplane.log'),
    caCert: join(dir, 'pki', 'ca.crt'),
    adminCert: join(dir, 'pki', 'admin.crt'),
    adminKey: join(dir, 'pki', 'admin.key'),
    ensureLock: join(dir, 'ensure.lock'),
  } as const;
}
