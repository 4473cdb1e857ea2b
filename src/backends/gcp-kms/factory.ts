// Opens a GCP Cloud KMS / Cloud HSM backend from KeyBackend.spec.gcpKMS.

import type { SecretReference } from '../credentials.ts';
import type { BackendFactory } from '../registry.ts';
import { SERVICE_ACCOUNT_KEY, createClient } from './client.ts';
import { GcpKmsBackend } from './gcp-kms-backend.ts';

export const gcpKmsFactory: BackendFactory<'gcpKMS'> = {
  kind: 'gcpKMS',
  credentials: (spec): Record<string, SecretReference> =>
    spec.credentialsSecretRef === undefined ? {} : { [SERVICE_ACCOUNT_KEY]: spec.credentialsSecretRef },
  open: (spec, credentials) => GcpKmsBackend.connect(createClient(spec, credentials), spec),
};
