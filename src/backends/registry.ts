// Opens the backend a KeyBackend describes. Each kind of backend lives in its own folder; this is the one place that
// knows which folder serves which `spec` field.
import { BACKEND_KINDS } from '../api/v1alpha1/keybackend.ts';
import type { KeyBackendSpec } from '../api/v1alpha1/keybackend.ts';
import type { KeyBackend } from './backend.ts';
import { MisconfiguredError, UnsupportedError } from './errors.ts';
import { Pkcs11Backend } from './pkcs11/pkcs11-backend.ts';

/** A reference to one key of a Secret. */
export interface SecretReference {
  namespace: string;
  name: string;
  key: string;
}

/** The kind of backend a spec selects: `pkcs11`, `awsCloudHSM`, `azureKeyVault` or `gcpKMS`. */
export function backendKind(spec: KeyBackendSpec): (typeof BACKEND_KINDS)[number] {
  const [kind, ...others] = BACKEND_KINDS.filter((k) => spec[k] !== undefined);
  if (kind === undefined || others.length > 0)
    throw new MisconfiguredError('exactly one backend must be set');
  return kind;
}

/** The Secret holding the backend's credential, if it needs one. */
export function credentialReference(spec: KeyBackendSpec): SecretReference | undefined {
  return spec.pkcs11?.pinSecretRef ?? spec.awsCloudHSM?.pkcs11.pinSecretRef;
}

/** Connects to the backend; `credential` is the value of credentialReference's Secret key. */
export async function openBackend(spec: KeyBackendSpec, credential: string | undefined): Promise<KeyBackend> {
  const kind = backendKind(spec);
  if (spec.pkcs11) {
    if (credential === undefined) throw new MisconfiguredError('the PKCS#11 backend needs a PIN');
    const { modulePath, vendor, token, maxSessions } = spec.pkcs11;
    const selector =
      token.label !== undefined
        ? { label: token.label }
        : token.serial !== undefined
          ? { serial: token.serial }
          : { slotId: token.slotId ?? 0 };
    return Pkcs11Backend.connect({ modulePath, vendor, token: selector, pin: credential, maxSessions });
  }
  throw new UnsupportedError(`the ${kind} backend is not available in this version of Keyward`);
}
