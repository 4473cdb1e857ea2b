// The TokenCredential a vault is reached with: a service principal from a Secret, or, without one, workload
// identity (the federated token AKS mounts) or else the pod's managed identity. The developer credentials that
// DefaultAzureCredential would also try (Azure CLI, PowerShell) have no place in an operator.

import {
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential,
  WorkloadIdentityCredential,
} from '@azure/identity';
import { type Credentials, requireCredential } from '../credentials.ts';
import { MisconfiguredError } from '../errors.ts';
import type { AzureConfig } from './config.ts';

export const SERVICE_PRINCIPAL = 'servicePrincipal';

interface ServicePrincipal {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

function servicePrincipal(value: Buffer): ServicePrincipal {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch {
    // The parser's message quotes the text it choked on: it is not passed on.
    throw new MisconfiguredError('the service principal Secret is not JSON');
  }
  const fields = ['tenantId', 'clientId', 'clientSecret'] as const;
  const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
  const missing = fields.filter((field) => typeof record[field] !== 'string' || record[field] === '');
  if (missing.length > 0) {
    throw new MisconfiguredError(`the service principal Secret lacks ${missing.join(', ')}`);
  }
  return record as unknown as ServicePrincipal;
}

/** A short description for messages, e.g. `service principal 1234...`; never the secret. */
export interface AzureCredential {
  readonly credential: TokenCredential;
  readonly description: string;
}

export function azureCredential(config: AzureConfig, credentials: Credentials): AzureCredential {
  const authority = {
    ...(config.authorityHost === undefined ? {} : { authorityHost: config.authorityHost }),
    // An authority named in the spec is trusted as given; discovery would ask the public cloud about it.
    disableInstanceDiscovery: config.authorityHost !== undefined,
  };
  if (credentials.has(SERVICE_PRINCIPAL)) {
    const principal = servicePrincipal(
      requireCredential(credentials, SERVICE_PRINCIPAL, 'the service principal Secret'),
    );
    return {
      // The SDK keeps the secret as a string for the credential's lifetime; nothing else holds a copy.
      credential: new ClientSecretCredential(
        principal.tenantId,
        principal.clientId,
        principal.clientSecret,
        authority,
      ),
      description: `service principal ${principal.clientId}`,
    };
  }
  if (process.env.AZURE_FEDERATED_TOKEN_FILE) {
    return {
      credential: new WorkloadIdentityCredential(authority),
      description: `workload identity ${process.env.AZURE_CLIENT_ID ?? ''}`.trim(),
    };
  }
  return { credential: new ManagedIdentityCredential(), description: 'managed identity' };
}
