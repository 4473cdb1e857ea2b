// Opens the Azure backend on the Key Vault test peer through the real credential path (a service principal the
// peer's Entra ID endpoint accepts), as the conformance suite and the Azure tests both need it.
import type { KeyBackend } from '../../../src/backends/backend.ts';
import { azureKeyVaultFactory } from '../../../src/backends/azure-keyvault/factory.ts';
import type { KeyVaultPeer } from './server.ts';

export function principal(peer: KeyVaultPeer, secret = peer.clientSecret): Map<string, Buffer> {
  const json = JSON.stringify({ tenantId: peer.tenantId, clientId: peer.clientId, clientSecret: secret });
  return new Map([['servicePrincipal', Buffer.from(json)]]);
}

export async function open(
  peer: KeyVaultPeer,
  kind: 'KeyVault' | 'ManagedHSM',
  secret?: string,
): Promise<KeyBackend> {
  return azureKeyVaultFactory.open(
    {
      vaultUrl: peer.vaultUrl,
      vaultType: kind,
      authorityHost: peer.authorityHost,
      disableChallengeResourceVerification: true,
      credentialsSecretRef: { namespace: 'keyward', name: 'azure', key: 'servicePrincipal' },
    },
    principal(peer, secret),
  );
}
