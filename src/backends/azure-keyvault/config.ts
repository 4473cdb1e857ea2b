// What a KeyBackend's spec.azureKeyVault says, checked: the vault, whether it is a Key Vault or a Managed HSM (and
// so which key types and which FIPS 140 level it offers), and how to authenticate.

import { isIP } from 'node:net';
import type { AzureKeyVaultBackend } from '../../api/v1alpha1/keybackend.ts';
import { MisconfiguredError } from '../errors.ts';

export type VaultType = 'KeyVault' | 'ManagedHSM';

// Data-plane host suffixes of the public and sovereign clouds.
const HOST_SUFFIXES: readonly (readonly [string, VaultType])[] = [
  ['.vault.azure.net', 'KeyVault'],
  ['.vault.azure.cn', 'KeyVault'],
  ['.vault.usgovcloudapi.net', 'KeyVault'],
  ['.managedhsm.azure.net', 'ManagedHSM'],
  ['.managedhsm.azure.cn', 'ManagedHSM'],
  ['.managedhsm.usgovcloudapi.net', 'ManagedHSM'],
];

/**
 * The FIPS 140 level Keyward can vouch for. Managed HSM: FIPS 140-3 Level 3. Key Vault Premium: its HSM-protected
 * keys were on FIPS 140-2 Level 2 HSMs, and Microsoft's newer pool is FIPS 140-3 Level 3, but the data plane does not
 * say which pool a vault is on, so only Level 2 is vouched for.
 */
export const VALIDATED_FIPS_LEVEL: Readonly<Record<VaultType, number>> = { KeyVault: 2, ManagedHSM: 3 };

export interface AzureConfig {
  /** Normalized: no trailing slash. */
  readonly vaultUrl: string;
  readonly vaultType: VaultType;
  /** What a person calls the vault: the first label of its host name (an address as it is). */
  readonly vaultName: string;
  readonly authorityHost?: string;
  readonly disableChallengeResourceVerification: boolean;
}

function parseUrl(value: string): URL {
  try {
    return new URL(value);
  } catch {
    throw new MisconfiguredError(`vaultUrl "${value}" is not a URL`);
  }
}

export function azureConfig(spec: AzureKeyVaultBackend): AzureConfig {
  const url = parseUrl(spec.vaultUrl);
  if (url.protocol !== 'https:') throw new MisconfiguredError('vaultUrl must be an https URL');
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    throw new MisconfiguredError(`vaultUrl must be the vault's base URL, not ${spec.vaultUrl}`);
  }
  const host = url.hostname.toLowerCase();
  const fromHost = HOST_SUFFIXES.find(([suffix]) => host.endsWith(suffix))?.[1];
  if (fromHost !== undefined && spec.vaultType !== undefined && spec.vaultType !== fromHost) {
    throw new MisconfiguredError(`vaultType is ${spec.vaultType} but ${host} is a ${fromHost} host name`);
  }
  const vaultType = spec.vaultType ?? fromHost;
  if (vaultType === undefined) {
    throw new MisconfiguredError(`${host} is not an Azure Key Vault or Managed HSM host name; set vaultType`);
  }
  if (spec.authorityHost !== undefined) parseUrl(spec.authorityHost);
  return {
    vaultUrl: url.origin,
    vaultType,
    vaultName: isIP(host) ? url.host : (host.split('.')[0] ?? host),
    ...(spec.authorityHost === undefined ? {} : { authorityHost: spec.authorityHost.replace(/\/+$/, '') }),
    disableChallengeResourceVerification: spec.disableChallengeResourceVerification,
  };
}
