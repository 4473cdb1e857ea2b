import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import type { KeyCeremonyApprovalObject } from '../../../src/api/v1alpha1/keyceremonyapproval.ts';
import { Refusal, checkApproval, tally } from '../../../src/ceremony/quorum.ts';
import type { CeremonyView } from '../../../src/ceremony/quorum.ts';
import { OpenSsl } from '../../support/openssl.ts';
import type { PersonKeyType } from '../../support/openssl.ts';

const CHALLENGE = `sha256:${'a'.repeat(64)}`;
const OTHER_CHALLENGE = `sha256:${'b'.repeat(64)}`;
const HEAD = `sha256:${'c'.repeat(64)}`;

describe('quorum: which approvals count', () => {
  const openssl = new OpenSsl();
  const people: Record<string, PersonKeyType> = {
    alice: 'ec-p256',
    bob: 'ec-p384',
    carol: 'rsa',
    dave: 'ed25519',
    mallory: 'ec-p256',
    walter: 'ec-p256',
  };
  const keys: Record<string, string> = {};
  let ceremony: CeremonyView;
  let counter = 0;

  before(() => {
    for (const [name, type] of Object.entries(people)) keys[name] = openssl.keygen(name, type);
    ceremony = {
      name: 'root-2026',
      custodians: ['alice', 'bob', 'carol', 'dave'].map((name) => ({ name, publicKey: keys[name] ?? '' })),
      witnesses: [{ name: 'walter', publicKey: keys.walter ?? '' }],
      challenge: CHALLENGE,
      head: HEAD,
      challengeOf: (digest) => (digest === OTHER_CHALLENGE ? 'root-2027' : undefined),
    };
  });
  after(() => {
    openssl.remove();
  });

  function approval(
    signer: string,
    options: {
      by?: string;
      digest?: string;
      role?: 'Custodian' | 'Witness';
      ceremony?: string;
      hash?: string;
    } = {},
  ): KeyCeremonyApprovalObject {
    counter += 1;
    const digest = options.digest ?? (options.role === 'Witness' ? HEAD : CHALLENGE);
    const by = options.by ?? signer;
    return {
      apiVersion: 'keyward.io/v1alpha1',
      kind: 'KeyCeremonyApproval',
      metadata: {
        name: `${signer}-${counter}`,
        namespace: 'pki',
        creationTimestamp: `2026-12-01T10:00:${String(counter).padStart(2, '0')}Z`,
      },
      spec: {
        ceremonyRef: { name: options.ceremony ?? 'root-2026' },
        role: options.role ?? 'Custodian',
        signer,
        signedDigest: digest,
        signature: openssl.sign(by, people[by] ?? 'ec-p256', digest, options.hash),
      },
    };
  }

  it('accepts each key type signed as the docs say (openssl dgst -sha256 -sign, pkeyutl -rawin for Ed25519)', () => {
    for (const name of ['alice', 'bob', 'carol', 'dave'])
      assert.equal(checkApproval(approval(name), ceremony), undefined, name);
    assert.equal(
      checkApproval(approval('bob', { hash: 'sha384' }), ceremony),
      undefined,
      'P-384 with SHA-384',
    );
    assert.equal(checkApproval(approval('walter', { role: 'Witness' }), ceremony), undefined, 'witness');
  });

  it('refuses a forged signature (signed with another key)', () => {
    assert.equal(
      checkApproval(approval('alice', { by: 'mallory' }), ceremony)?.reason,
      Refusal.SignatureInvalid,
    );
  });

  it('refuses a signature over another digest, and says when it is the challenge of another ceremony', () => {
    const other = checkApproval(approval('alice', { digest: OTHER_CHALLENGE }), ceremony);
    assert.equal(other?.reason, Refusal.OtherCeremony);
    assert.match(other.message, /challenge of ceremony root-2027/);
    const random = checkApproval(approval('alice', { digest: `sha256:${'d'.repeat(64)}` }), ceremony);
    assert.equal(random?.reason, Refusal.DigestMismatch);
    assert.equal(
      checkApproval(approval('alice', { ceremony: 'root-2027' }), ceremony)?.reason,
      Refusal.WrongCeremony,
    );
  });

  it('refuses a signer not in the spec, and a witness signing as custodian', () => {
    assert.equal(checkApproval(approval('mallory'), ceremony)?.reason, Refusal.SignerNotInSpec);
    assert.equal(checkApproval(approval('walter'), ceremony)?.reason, Refusal.SignerNotInSpec);
    assert.equal(
      checkApproval(approval('alice', { role: 'Witness' }), ceremony)?.reason,
      Refusal.SignerNotInSpec,
    );
  });

  it('witnesses sign the head only once there is one', () => {
    const unsealed = { ...ceremony, head: undefined };
    assert.equal(
      checkApproval(approval('walter', { role: 'Witness' }), unsealed)?.reason,
      Refusal.TranscriptNotSealed,
    );
    assert.equal(
      checkApproval(approval('walter', { role: 'Witness', digest: CHALLENGE }), ceremony)?.reason,
      Refusal.DigestMismatch,
    );
  });

  it('counts each custodian once, the first valid approval winning', () => {
    const first = approval('alice');
    const second = approval('alice');
    const forged = approval('bob', { by: 'mallory' });
    const result = tally([second, forged, approval('carol'), first], 'Custodian', ceremony);
    assert.deepEqual(result.approvedBy, ['alice', 'carol']);
    assert.equal(result.counted.get('alice'), first);
    assert.equal(result.refused.get(second.metadata.name ?? '')?.reason, Refusal.DuplicateApproval);
    assert.equal(result.refused.get(forged.metadata.name ?? '')?.reason, Refusal.SignatureInvalid);
  });

  it('a forged approval does not take the place of the real one that comes later', () => {
    const forged = approval('alice', { by: 'mallory' });
    const real = approval('alice');
    assert.deepEqual(tally([forged, real], 'Custodian', ceremony).approvedBy, ['alice']);
  });

  it('refuses a signature that is not base64 of a signature', () => {
    const bad = approval('alice');
    bad.spec.signature = 'AAAA';
    assert.equal(checkApproval(bad, ceremony)?.reason, Refusal.SignatureInvalid);
  });
});
