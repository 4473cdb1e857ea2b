// KeyBackend.spec.awsKMS -> an AWS KMS backend.

import type { AwsKmsBackend as AwsKmsSpec } from '../../api/v1alpha1/keybackend.ts';
import { awsClientConfig, awsCredentialReferences } from '../aws/client-config.ts';
import type { BackendFactory } from '../registry.ts';
import { AwsKmsBackend } from './kms-backend.ts';

export const awsKmsFactory: BackendFactory<'awsKMS'> = {
  kind: 'awsKMS',
  credentials: (spec: AwsKmsSpec) => awsCredentialReferences(spec),
  open: (spec: AwsKmsSpec, credentials) =>
    AwsKmsBackend.open({
      client: awsClientConfig(spec, credentials),
      region: spec.region,
      ...(spec.customKeyStoreId === undefined ? {} : { customKeyStoreId: spec.customKeyStoreId }),
    }),
};
