// Starts the Cloud KMS peer (test/peers/gcp-kms) in the test process on a random loopback port, and the
// KeyBackend.spec.gcpKMS that reaches it. Nothing to install: the peer runs on the protos and gRPC libraries that
// @google-cloud/kms already brings.

import type { GcpKmsBackend as GcpKmsSpec } from '../../src/api/v1alpha1/keybackend.ts';
import { GcpKmsPeer, type PeerOptions } from '../peers/gcp-kms/server.ts';

export { GcpKmsPeer };

export async function startGcpKmsPeer(options: PeerOptions = {}): Promise<GcpKmsPeer> {
  return new GcpKmsPeer(options).start();
}

/** A spec for a key ring of its own on `peer` (the key ring is created when the backend opens). */
export function peerSpec(peer: GcpKmsPeer, keyRing: string, overrides: Partial<GcpKmsSpec> = {}): GcpKmsSpec {
  return {
    project: 'keyward-test',
    location: 'europe-west1',
    keyRing,
    protectionLevel: 'HSM',
    destroyScheduledDuration: '24h',
    endpoint: peer.endpoint,
    ...overrides,
  };
}
