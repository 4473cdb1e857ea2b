// The backend conformance suite on the Key Vault peer, as a Managed HSM and as a Key Vault (Premium). Key Vault
// restricts a version's key_ops, so archival is by usages; what it lacks is declared.
import { after } from 'node:test';
import { open } from '../../support/keyvault-peer/open.ts';
import { startKeyVaultPeer } from '../../support/keyvault-peer/server.ts';
import { describeConformance } from './conformance.ts';

const managedHsm = await startKeyVaultPeer({});
after(async () => {
  await managedHsm.stop();
});

describeConformance({
  name: 'Azure Managed HSM peer',
  open: () => open(managedHsm, 'ManagedHSM'),
  algorithms: ['EC_P256', 'EC_P384', 'EC_P521', 'RSA_2048', 'RSA_3072', 'RSA_4096', 'AES_256'],
  unoffered: 'ED25519',
  lacks: {
    recoveryWrap:
      'Key Vault exports a key only by its release policy to an attested environment, not wrapped for custodians',
  },
});
