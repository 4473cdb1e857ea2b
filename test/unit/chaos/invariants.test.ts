// The chaos checker fails when it should: each invariant reported for a world broken that way, and none for a
// world that holds.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { appendEntry } from '../../../src/ceremony/transcript.ts';
import { checkInvariants } from '../../chaos/invariants.ts';
import type { KeySnapshot, WorldSnapshot } from '../../chaos/invariants.ts';

const HOUR = 3_600_000;
const T0 = Date.parse('2026-12-02T07:00:00Z');

const key = (overrides: Partial<KeySnapshot> = {}): KeySnapshot => ({
  name: 'signer',
  uid: 'uid-1',
  gone: false,
  deletionPolicy: 'Destroy',
  destroyAfterMs: 24 * HOUR,
  generation: 2,
  observedGeneration: 2,
  ready: true,
  phase: 'Active',
  versions: [
    { version: 2, state: 'Active' },
    { version: 1, state: 'Archived' },
  ],
  ...overrides,
});

const genesis = 'sha256:challenge';
const chain = [{ step: 'Preparation' }, { step: 'HSM Initialization' }].reduce(
  (entries, { step }) =>
    appendEntry(entries, genesis, { time: '2026-12-02T07:00:00Z', step, actor: 'operator', detail: {} }),
  appendEntry([], genesis, {
    time: '2026-12-02T07:00:00Z',
    step: 'Dual Control',
    actor: 'alice',
    detail: {},
  }),
);

const healthy: WorldSnapshot = {
  now: T0,
  keys: [key()],
  objects: [
    { uid: 'uid-1', version: 1, count: 1 },
    { uid: 'uid-1', version: 2, count: 1 },
  ],
  disappearances: [],
  transcripts: [{ ceremony: 'root', genesis, headHash: chain.at(-1)?.hash, entries: chain }],
};

const invariantsOf = (world: WorldSnapshot) => checkInvariants(world).map((v) => v.invariant);

it('a world that holds has no violation', () => {
  assert.deepEqual(checkInvariants(healthy), []);
});

it('reports a duplicate key object', () => {
  const world = {
    ...healthy,
    objects: [...healthy.objects.slice(0, 1), { uid: 'uid-1', version: 2, count: 2 }],
  };
  assert.deepEqual(invariantsOf(world), ['no-duplicate-object']);
  assert.match(checkInvariants(world)[0]?.message ?? '', /signer v2: 2 key objects/);
});

it('reports an object status does not know of (a version made twice under a new number)', () => {
  const world = { ...healthy, objects: [...healthy.objects, { uid: 'uid-1', version: 3, count: 1 }] };
  assert.deepEqual(invariantsOf(world), ['no-untracked-object']);
});

it('reports a version status records that the backend lost', () => {
  const world = { ...healthy, objects: healthy.objects.slice(1) };
  assert.deepEqual(invariantsOf(world), ['no-lost-version']);
  assert.match(
    checkInvariants(world)[0]?.message ?? '',
    /signer v1 is Archived in status but not in the backend/,
  );
});

it('reports a key destroyed by its policy that left an object behind', () => {
  const world = { ...healthy, keys: [key({ gone: true, deletionRequestedAt: T0 })] };
  assert.deepEqual(invariantsOf(world), ['no-lost-version', 'no-lost-version']);
});

it('reports a destruction before the window ends, and one no policy allowed', () => {
  const deleted = key({ gone: true, deletionRequestedAt: T0, destroyTime: T0 + 24 * HOUR });
  const early = {
    ...healthy,
    keys: [deleted],
    objects: [],
    disappearances: [{ uid: 'uid-1', version: 1, at: T0 + 23 * HOUR }],
  };
  assert.deepEqual(invariantsOf(early), ['no-early-destruction']);
  const onTime = { ...early, disappearances: [{ uid: 'uid-1', version: 1, at: T0 + 24 * HOUR + 5 }] };
  assert.deepEqual(invariantsOf(onTime), []);

  const retained = {
    ...healthy,
    keys: [key({ deletionPolicy: 'Retain' })],
    disappearances: [{ uid: 'uid-1', version: 1, at: T0 }],
  };
  assert.deepEqual(invariantsOf(retained), ['no-early-destruction']);
  assert.match(checkInvariants(retained)[0]?.message ?? '', /nothing allowed its destruction/);
});

it('reports a transcript whose chain is broken, reordered or whose head status does not match', () => {
  const [first, second, third] = chain;
  assert.ok(first && second && third);
  const edited = { ...second, actor: 'mallory' };
  const cases = [
    [first, edited, third],
    [first, third],
    [second, first, third],
  ];
  for (const entries of cases) {
    const world = { ...healthy, transcripts: [{ ceremony: 'root', genesis, entries }] };
    assert.deepEqual(
      invariantsOf(world),
      ['transcript-chain-valid'],
      JSON.stringify(entries.map((e) => e.seq)),
    );
  }
  const staleHead = {
    ...healthy,
    transcripts: [{ ceremony: 'root', genesis, headHash: second.hash, entries: chain }],
  };
  assert.deepEqual(invariantsOf(staleHead), ['transcript-chain-valid']);
});

it('reports status that did not converge', () => {
  const cases: Partial<KeySnapshot>[] = [
    { ready: false, phase: 'Failed' },
    { observedGeneration: 1 },
    { versions: [{ version: 3, state: 'Generating' }, ...key().versions] },
    { deletionRequestedAt: T0, deletionPolicy: 'Disable', phase: 'Active' },
  ];
  for (const overrides of cases) {
    assert.deepEqual(
      invariantsOf({ ...healthy, keys: [key(overrides)] }),
      ['status-converged'],
      JSON.stringify(overrides),
    );
  }
  const backingOff = key({
    versions: [{ version: 3, state: 'Generating' }, ...key().versions],
    rotationRetryAt: T0 + HOUR,
  });
  assert.deepEqual(invariantsOf({ ...healthy, keys: [backingOff] }), []);
  const yearLater = key({ ...backingOff, rotationRetryAt: T0 + 8760 * HOUR });
  assert.deepEqual(invariantsOf({ ...healthy, keys: [yearLater] }), ['status-converged']);
  const pending = key({ deletionRequestedAt: T0, phase: 'PendingDestruction', destroyTime: T0 + 24 * HOUR });
  assert.deepEqual(invariantsOf({ ...healthy, keys: [pending] }), []);
  const overdue = { ...healthy, now: T0 + 25 * HOUR, keys: [pending] };
  assert.deepEqual(invariantsOf(overdue), ['status-converged']);
  assert.match(checkInvariants(overdue)[0]?.message ?? '', /window ended .* still there/);
});
