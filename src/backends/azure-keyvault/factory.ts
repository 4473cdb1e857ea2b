// Opens an Azure Key Vault or Managed HSM backend from spec.azureKeyVault.

import type { AzureKeyVaultBackend as AzureKeyVaultSpec } from '../../api/v1alpha1/keybackend.ts';
import type { SecretReference } from '../credentials.ts';
import type { BackendFactory } from '../registry.ts';
import { AzureKeyVaultBackend } from './azure-backend.ts';
import { azureConfig } from './config.ts';
import { SERVICE_PRINCIPAL, azureCredential } from './credential.ts';

export const azureKeyVaultFactory: BackendFactory<'azureKeyVault'> = {
  kind: 'azureKeyVault',
  credentials(spec: AzureKeyVaultSpec): Readonly<Record<string, SecretReference>> {
    return spec.credentialsSecretRef ? { [SERVICE_PRINCIPAL]: spec.credentialsSecretRef } : {};
  },
  async open(spec: AzureKeyVaultSpec, credentials) {
    const config = azureConfig(spec);
    const { credential, description } = azureCredential(config, credentials);
    const backend = new AzureKeyVaultBackend(config, credential, description);
    try {
      // Connecting means the vault answered and the credential was accepted, as for every other backend.
      await backend.health();
      return backend;
    } catch (error) {
      await backend.close();
      throw error;
    }
  },
};
