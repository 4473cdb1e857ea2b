// KeyBackend.spec.awsCloudHSM -> the cluster client and the CloudHSM PKCS#11 library, joined.

import type { AwsCloudHsmBackend as AwsCloudHsmSpec } from '../../api/v1alpha1/keybackend.ts';
import { awsClientConfig, awsCredentialReferences } from '../aws/client-config.ts';
import { requireCredential } from '../credentials.ts';
import { Pkcs11Backend } from '../pkcs11/pkcs11-backend.ts';
import { tokenSelector } from '../pkcs11/factory.ts';
import type { BackendFactory } from '../registry.ts';
import { AwsCloudHsmBackend } from './cloudhsm-backend.ts';
import { CloudHsmClusterClient } from './cluster-client.ts';

/** The one token the CloudHSM library (Client SDK 5) presents for a cluster. */
export const CLOUDHSM_TOKEN_LABEL = 'hsm1';

export const awsCloudHsmFactory: BackendFactory<'awsCloudHSM'> = {
  kind: 'awsCloudHSM',
  credentials: (spec: AwsCloudHsmSpec) => ({
    pin: spec.pkcs11.pinSecretRef,
    ...awsCredentialReferences(spec),
  }),
  async open(spec: AwsCloudHsmSpec, credentials) {
    const cluster = new CloudHsmClusterClient(awsClientConfig(spec, credentials), spec.clusterId);
    try {
      // The cluster first: a missing or uninitialized cluster says more than the library failing to reach it.
      await cluster.health();
      const keys = await Pkcs11Backend.connect({
        modulePath: spec.pkcs11.modulePath,
        vendor: 'cloudhsm',
        token: tokenSelector(spec.pkcs11.token ?? { label: CLOUDHSM_TOKEN_LABEL }),
        pin: requireCredential(credentials, 'pin', 'the crypto user login (user:password)'),
        maxSessions: spec.pkcs11.maxSessions,
      });
      return new AwsCloudHsmBackend(spec.region, cluster, keys);
    } catch (error) {
      cluster.close();
      throw error;
    }
  },
};
