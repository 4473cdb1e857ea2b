// Opens the backend a KeyBackend describes. Each kind of backend lives in its own folder and exports a
// BackendFactory; this is the one place that knows which folder serves which `spec` field.
import { BACKEND_KINDS } from '../api/v1alpha1/keybackend.ts';
import type { KeyBackendSpec } from '../api/v1alpha1/keybackend.ts';
import type { KeyBackend } from './backend.ts';
import type { Credentials, SecretReference } from './credentials.ts';
import { MisconfiguredError, UnsupportedError } from './errors.ts';

export type BackendKind = (typeof BACKEND_KINDS)[number];

/** How one kind of backend is opened from its part of KeyBackend.spec. */
export interface BackendFactory<K extends BackendKind = BackendKind> {
  readonly kind: K;
  /** The Secrets the backend needs, by a name the backend chooses (`pin`, `awsCredentials`); none for workload identity. */
  credentials(spec: NonNullable<KeyBackendSpec[K]>): Readonly<Record<string, SecretReference>>;
  /**
   * Connects. `credentials` holds the value of each Secret key named by credentials(); the caller zeroes the
   * Buffers once this resolves or rejects, so a backend copies what it must keep (and zeroes it on close).
   */
  open(spec: NonNullable<KeyBackendSpec[K]>, credentials: Credentials): Promise<KeyBackend>;
}

/**
 * Each kind's factory, imported when a KeyBackend of that kind is first used: the cloud SDKs cost an operator that
 * never uses them tens of MB and seconds of start-up (measured in bench/results/2026-12-02-notes.md).
 */
const FACTORIES: { readonly [K in BackendKind]?: () => Promise<BackendFactory<K>> } = {
  pkcs11: async () => (await import('./pkcs11/factory.ts')).pkcs11Factory,
  azureKeyVault: async () => (await import('./azure-keyvault/factory.ts')).azureKeyVaultFactory,
  gcpKMS: async () => (await import('./gcp-kms/factory.ts')).gcpKmsFactory,
  awsCloudHSM: async () => (await import('./aws-cloudhsm/factory.ts')).awsCloudHsmFactory,
  awsKMS: async () => (await import('./aws-kms/factory.ts')).awsKmsFactory,
};

/** The kind of backend a spec selects: `pkcs11`, `awsCloudHSM`, `awsKMS`, `azureKeyVault` or `gcpKMS`. */
export function backendKind(spec: KeyBackendSpec): BackendKind {
  const [kind, ...others] = BACKEND_KINDS.filter((k) => spec[k] !== undefined);
  if (kind === undefined || others.length > 0)
    throw new MisconfiguredError('exactly one backend must be set');
  return kind;
}

/** The factory and spec part of the backend a spec selects (typed loosely: which kind pairs with which is data). */
async function selected(spec: KeyBackendSpec): Promise<{ factory: BackendFactory; part: never }> {
  const kind = backendKind(spec);
  const load = FACTORIES[kind] as (() => Promise<BackendFactory>) | undefined;
  if (!load) throw new UnsupportedError(`the ${kind} backend is not available in this version of Keyward`);
  return { factory: await load(), part: spec[kind] as never };
}

/** The Secrets the backend a spec selects needs, by name. */
export async function credentialReferences(
  spec: KeyBackendSpec,
): Promise<Readonly<Record<string, SecretReference>>> {
  const { factory, part } = await selected(spec);
  return factory.credentials(part);
}

/** Connects to the backend a spec selects. */
export async function openBackend(spec: KeyBackendSpec, credentials: Credentials): Promise<KeyBackend> {
  const { factory, part } = await selected(spec);
  return factory.open(part, credentials);
}
