import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';

import { canonicalJson, ceremonyChallenge } from '../../../src/ceremony/challenge.ts';
import {
  appendEntry,
  entryHash,
  headOf,
  parseTranscript,
  serializeTranscript,
  verifyChain,
} from '../../../src/ceremony/transcript.ts';
import type { TranscriptEntry } from '../../../src/ceremony/transcript.ts';

const GENESIS = `sha256:${'0'.repeat(64)}`;

function chain(): TranscriptEntry[] {
  let entries: TranscriptEntry[] = [];
  for (const [step, actor] of [
    ['Preparation', 'operator'],
    ['Dual Control', 'alice'],
    ['Secure Storage', 'operator'],
  ] as const) {
    entries = appendEntry(entries, GENESIS, {
      time: '2026-12-01T10:00:00Z',
      step,
      actor,
      detail: { note: step },
    });
  }
  return entries;
}

describe('the transcript hash chain', () => {
  it('links each entry to the one before, the first to the genesis', () => {
    const entries = chain();
    assert.deepEqual(
      entries.map((e) => e.seq),
      [1, 2, 3],
    );
    assert.equal(entries[0]?.prevHash, GENESIS);
    assert.equal(entries[1]?.prevHash, entries[0].hash);
    assert.equal(headOf(entries, GENESIS), entries[2]?.hash);
    assert.equal(verifyChain(parseTranscript(serializeTranscript(entries)), GENESIS), undefined);
  });

  it('fails verification when an entry is changed, removed, reordered or re-hashed alone', () => {
    const entries = chain();
    const [first, second, third] = entries;
    assert.ok(first && second && third);
    const changed = { ...second, actor: 'mallory' };
    assert.match(verifyChain([first, changed, third], GENESIS) ?? '', /entry 2 was changed/);
    const rehashed = { ...changed, hash: entryHash(changed) };
    assert.match(verifyChain([first, rehashed, third], GENESIS) ?? '', /entry 3 does not follow/);
    assert.match(verifyChain([first, third], GENESIS) ?? '', /entry 2 has seq 3/);
    assert.match(verifyChain(entries, `sha256:${'1'.repeat(64)}`) ?? '', /entry 1 does not follow/);
  });

  it('the entry hash is sha256 over the canonical JSON of the entry without its hash', () => {
    const [first] = chain();
    assert.ok(first);
    const { hash, ...rest } = first;
    const viaShell = execFileSync('sh', ['-c', 'jq -cjS . | sha256sum'], { input: JSON.stringify(rest) })
      .toString()
      .split(' ')[0];
    assert.equal(hash, `sha256:${viaShell ?? ''}`);
  });
});

describe('the ceremony challenge', () => {
  it('is what a custodian recomputes with jq and sha256sum', () => {
    const spec = {
      type: 'RootKeyGeneration',
      quorum: { threshold: 2, custodians: [{ publicKey: 'a\nb', name: 'x' }] },
    };
    const uid = '5f0c1a7e-0000-4000-8000-00000000abcd';
    const shell = execFileSync('sh', ['-c', `printf '%s\\n%s' "$1" "$(jq -cS .)" | sha256sum`, 'sh', uid], {
      input: JSON.stringify(spec),
    })
      .toString()
      .split(' ')[0];
    assert.equal(ceremonyChallenge(uid, spec), `sha256:${shell ?? ''}`);
  });

  it('differs for another uid or another spec', () => {
    const spec = { a: 1 };
    assert.notEqual(ceremonyChallenge('u1', spec), ceremonyChallenge('u2', spec));
    assert.notEqual(ceremonyChallenge('u1', spec), ceremonyChallenge('u1', { a: 2 }));
    assert.equal(canonicalJson({ b: [true, 'x'], a: 1 }), '{"a":1,"b":[true,"x"]}');
  });
});
