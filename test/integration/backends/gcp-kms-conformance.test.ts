// The backend conformance suite on the Cloud KMS peer at protection level HSM, through the real client over gRPC.
// What Cloud KMS lacks is declared: it cannot restrict a version's usages, it schedules every destruction, and its
// RSA signing keys are PKCS#1 v1.5 for life.
import { after } from 'node:test';
import { gcpKmsFactory } from '../../../src/backends/gcp-kms/factory.ts';
import { offeredAlgorithms } from '../../../src/backends/gcp-kms/algorithms.ts';
import { peerSpec, startGcpKmsPeer } from '../../support/gcp-kms-peer.ts';
import { describeConformance } from './conformance.ts';

const peer = await startGcpKmsPeer({ pendingGenerationMs: 100 });
after(async () => {
  await peer.stop();
});

describeConformance({
  name: 'Cloud KMS peer (HSM)',
  open: () => gcpKmsFactory.open(peerSpec(peer, 'conformance'), new Map()),
  algorithms: offeredAlgorithms('HSM'),
  unoffered: 'EC_P521',
  lacks: {
    usageRestriction:
      'Cloud KMS can enable, disable and (for symmetric keys) choose the primary version, never restrict one to verify',
    immediateDestroy: 'Cloud KMS holds a destroyed version DESTROY_SCHEDULED for at least 24 hours',
    rsaPss: 'a Cloud KMS RSA key is made with one padding; Keyward makes RSA_SIGN_PKCS1 keys',
    recoveryWrap: 'Cloud KMS never exports key material it generated',
  },
});
