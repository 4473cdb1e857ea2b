// A chaos trial replays from its seed only if the PRNG is a function of the seed alone.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Prng } from '../../chaos/prng.ts';

const draws = (seed: number) => {
  const prng = new Prng(seed);
  return Array.from({ length: 100 }, () => prng.int(0, 9));
};

it('the same seed gives the same draws, another seed others', () => {
  assert.deepEqual(draws(42), draws(42));
  assert.notDeepEqual(draws(42), draws(43));
});

it('int stays within its bounds and reaches both', () => {
  const seen = new Set(draws(7).concat(draws(8)));
  assert.deepEqual(
    [...seen].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
});
