// Opens a PKCS#11 backend from KeyBackend.spec.pkcs11 and the PIN from its Secret.
import type { Pkcs11Backend as Pkcs11Spec } from '../../api/v1alpha1/keybackend.ts';
import { type SecretReference, requireCredential } from '../credentials.ts';
import type { BackendFactory } from '../registry.ts';
import type { TokenSelector } from './config.ts';
import { Pkcs11Backend } from './pkcs11-backend.ts';

export function tokenSelector(token: Pkcs11Spec['token']): TokenSelector {
  if (token.label !== undefined) return { label: token.label };
  if (token.serial !== undefined) return { serial: token.serial };
  return { slotId: token.slotId ?? 0 };
}

export const pkcs11Factory: BackendFactory<'pkcs11'> = {
  kind: 'pkcs11',
  // An offline root (activation Ceremony) has no PIN Secret: only a quorum of custodians can log in.
  credentials: (spec): Record<string, SecretReference> =>
    spec.pinSecretRef ? { pin: spec.pinSecretRef } : {},
  open: (spec, credentials) =>
    Pkcs11Backend.connect({
      modulePath: spec.modulePath,
      vendor: spec.vendor,
      token: tokenSelector(spec.token),
      pin: requireCredential(credentials, 'pin', 'the PIN'),
      maxSessions: spec.maxSessions,
    }),
};
