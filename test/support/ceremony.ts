// What the ceremony tests share: an offline root KeyBackend, a RootKeyGeneration ceremony for a set of people, a
// KeyActivation of its key, and approvals signed by openssl as those people (with a share, for an activation).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeObject } from '../../src/kube/object.ts';
import { REPO_ROOT } from './kube.ts';
import type { OpenSsl, PersonKeyType } from './openssl.ts';
import { tokenPins } from '../../src/ceremony/activation.ts';
import { SOFTHSM_MODULE } from './softhsm.ts';
import { recordTestSecret } from './test-secrets.ts';

/** An activation secret a test rebuilt from shares, and the token PINs derived from it, for the leak scan. */
export function recordActivationSecret(secret: Uint8Array, ceremonyUid: string): void {
  recordTestSecret(secret, `activation secret of ceremony ${ceremonyUid}`);
  const pins = tokenPins(Buffer.from(secret), ceremonyUid);
  recordTestSecret(pins.user, `user PIN of the token of ceremony ${ceremonyUid}`);
  recordTestSecret(pins.so, `SO PIN of the token of ceremony ${ceremonyUid}`);
}

export function offlineBackendManifest(name: string, label: string): KubeObject {
  return {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyBackend',
    metadata: { name },
    spec: {
      fipsLevel: 1,
      healthCheckInterval: '10s',
      pkcs11: { modulePath: SOFTHSM_MODULE, vendor: 'softhsm2', token: { label }, activation: 'Ceremony' },
    },
  } as KubeObject;
}

export interface CeremonyOptions {
  namespace: string;
  backend: string;
  custodians: { name: string; publicKey: string }[];
  witnesses: { name: string; publicKey: string }[];
  threshold?: number;
}

export function ceremonyManifest(name: string, options: CeremonyOptions): KubeObject {
  return {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyCeremony',
    metadata: { name, namespace: options.namespace },
    spec: {
      type: 'RootKeyGeneration',
      backendRef: { name: options.backend },
      key: { name: `${name}-key`, algorithm: 'EC_P384' },
      certificate: { subject: 'CN=Example Root CA 2026,O=Example Corp,C=DE', validity: '175200h' },
      quorum: { threshold: options.threshold ?? 3, custodians: options.custodians },
      witnesses: options.witnesses,
    },
  } as KubeObject;
}

/** A KeyActivation of the root key `key`: sign `csr` as an intermediate CA. */
export function activationManifest(
  name: string,
  options: CeremonyOptions & { key: string; csr: string },
): KubeObject {
  return {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyCeremony',
    metadata: { name, namespace: options.namespace },
    spec: {
      type: 'KeyActivation',
      backendRef: { name: options.backend },
      target: {
        managedKeyRef: { name: options.key },
        csr: options.csr,
        crlDistributionPoint: 'http://crl.example.com/root-2026.crl',
        validity: '43800h',
      },
      quorum: { threshold: options.threshold ?? 3, custodians: options.custodians },
      witnesses: options.witnesses,
    },
  } as KubeObject;
}

/** An approval as `kubectl keyward approve` makes it, signed with openssl by `by` (the signer unless forging). */
export function approvalManifest(
  openssl: OpenSsl,
  options: {
    name: string;
    namespace: string;
    ceremony: string;
    signer: string;
    digest: string;
    type: PersonKeyType;
    by?: string;
    role?: 'Custodian' | 'Witness';
    /** KeyActivation: the share, re-encrypted to the ceremony's recipient certificate (PEM CMS). */
    share?: string;
  },
): KubeObject {
  return {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyCeremonyApproval',
    metadata: { name: options.name, namespace: options.namespace },
    spec: {
      ceremonyRef: { name: options.ceremony },
      role: options.role ?? 'Custodian',
      signer: options.signer,
      signedDigest: options.digest,
      signature: openssl.sign(options.by ?? options.signer, options.type, options.digest),
      ...(options.share === undefined ? {} : { share: options.share }),
    },
  } as KubeObject;
}

/** The shell block of docs/ceremonies.md that follows `<!-- tested: name -->`: the docs' commands, run as written. */
export function docsBlock(name: string): string {
  const docs = readFileSync(join(REPO_ROOT, 'docs', 'ceremonies.md'), 'utf8');
  const block = new RegExp(`<!-- tested: ${name} -->\\s*\`\`\`sh\\n([\\s\\S]*?)\`\`\``).exec(docs)?.[1];
  if (block === undefined) throw new Error(`docs/ceremonies.md has no tested block "${name}"`);
  return block;
}

/** The kubectl-keyward executable, as a person installs it on their PATH. */
export const PLUGIN = join(REPO_ROOT, 'bin', 'kubectl-keyward');

/** Where a test runs what people run: the plugin and the docs' blocks, each in a process of its own. */
export interface PeopleShell {
  readonly kubeconfigPath: string;
  readonly namespace: string;
  /** The people's directory (their keys and files), the docs' commands' working directory. */
  readonly dir: string;
  /** A directory holding kubectl, put first on the docs' PATH. */
  readonly kubectlDir: string;
}

/** Runs the plugin as a person does, in the test's namespace; returns what it printed. */
export function runPlugin(shell: PeopleShell, ...args: string[]): string {
  return execFileSync(PLUGIN, [...args, '-n', shell.namespace, '--kubeconfig', shell.kubeconfigPath], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs a tested block of docs/ceremonies.md in bash as written, with kubectl on the PATH and `variables` set. */
export function runDocs(shell: PeopleShell, name: string, variables: Record<string, string> = {}): string {
  return execFileSync('bash', ['-euo', 'pipefail', '-c', docsBlock(name)], {
    cwd: shell.dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PATH: `${shell.kubectlDir}:${process.env.PATH ?? ''}`,
      KUBECONFIG: shell.kubeconfigPath,
      NS: shell.namespace,
      ...variables,
    },
  });
}
