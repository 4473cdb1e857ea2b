import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { findReasons } from '../../../scripts/reference/reasons.ts';
import { REFERENCE_FILE, renderReference } from '../../../scripts/reference/render.ts';

const root = path.resolve(import.meta.dirname, '../../..');

test('docs/reference.md is what npm run generate writes from the code', { timeout: 180_000 }, async () => {
  const committed = await readFile(path.join(root, REFERENCE_FILE), 'utf8');
  assert.equal(committed, await renderReference(root), `${REFERENCE_FILE} is stale: run npm run generate`);
});

/** A repository of one controller file, to see what the reason finder makes of it. */
async function reasonsIn(source: string): Promise<ReturnType<typeof findReasons>> {
  const repo = await mkdtemp(path.join(tmpdir(), 'keyward-reasons-'));
  try {
    await mkdir(path.join(repo, 'src', 'controllers', 'managedkey'), { recursive: true });
    await writeFile(
      path.join(repo, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, target: 'ES2024', lib: ['ES2024'], noEmit: true } }),
    );
    await writeFile(path.join(repo, 'src', 'controllers', 'managedkey', 'fixture.ts'), source);
    return findReasons(repo);
  } finally {
    await rm(repo, { recursive: true, force: true });
  }
}

test('the reason finder sees a new reason however it is written, and refuses one it cannot read', async () => {
  const found = await reasonsIn(`
    interface EventInput { type: string; reason: string }
    declare function record(event: EventInput): void;
    declare function condition(type: string, reason: string): void;
    const Reason = { Added: 'AddedConstant' } as const;
    type Step = 'One' | 'Two';
    function pick(n: number): [string, string] {
      return n > 0 ? ['FromTuple', 'message'] : ['OtherTuple', 'message'];
    }
    export function use(step: Step, failure: { reason: string }, n: number): void {
      condition('Ready', 'Literal');
      condition('Ready', Reason.Added);
      record({ type: 'Normal', reason: \`Step\${step}\` });
      const [reason] = pick(n);
      condition('Ready', reason);
      condition('Ready', failure.reason ?? 'Fallback');
    }
  `);
  assert.deepEqual([...found.keys()].sort(), [
    'AddedConstant',
    'Fallback',
    'FromTuple',
    'Literal',
    'OtherTuple',
    'StepOne',
    'StepTwo',
  ]);
  assert.deepEqual([...found.get('StepOne')!.uses], ['event']);
  assert.deepEqual([...found.get('Literal')!.kinds], ['ManagedKey']);

  await assert.rejects(
    reasonsIn(`
      declare function condition(type: string, reason: string): void;
      declare function computed(): string;
      export function use(): void {
        const why = computed();
        condition('Ready', why);
      }
    `),
    /fixture\.ts:6: cannot tell which reasons `why` can be/,
  );
});
