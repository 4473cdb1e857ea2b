import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  activationAuthenticator,
  matchesAuthenticator,
  newActivationSecret,
  tokenPins,
} from '../../../src/ceremony/activation.ts';
import { combineShares, splitSecret } from '../../../src/ceremony/shares.ts';

/** Every k-element subset of `items`. */
function subsets<T>(items: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  return items.flatMap((item, i) => subsets(items.slice(i + 1), k - 1).map((rest) => [item, ...rest]));
}

describe('split knowledge', () => {
  it('any 3 of 5 shares rebuild the secret, and no 2 do', async () => {
    const secret = newActivationSecret();
    const uid = 'c0ffee00-0000-4000-8000-000000000001';
    const authenticator = activationAuthenticator(secret, uid);
    const shares = await splitSecret(secret, 5, 3);
    for (const chosen of subsets(shares, 3)) {
      const rebuilt = await combineShares(chosen);
      assert.deepEqual(rebuilt, secret);
      assert.ok(matchesAuthenticator(rebuilt, uid, authenticator));
    }
    for (const chosen of subsets(shares, 2)) {
      const rebuilt = await combineShares(chosen);
      assert.notDeepEqual(rebuilt, secret);
      assert.equal(matchesAuthenticator(rebuilt, uid, authenticator), false);
    }
  });

  it('a tampered share is caught by the authenticator', async () => {
    const secret = newActivationSecret();
    const shares = await splitSecret(secret, 3, 2);
    const [first, second] = shares;
    assert.ok(first && second);
    first[0] = (first[0] ?? 0) ^ 1;
    const rebuilt = await combineShares([first, second]);
    assert.equal(matchesAuthenticator(rebuilt, 'uid', activationAuthenticator(secret, 'uid')), false);
  });

  it('derives distinct PINs per ceremony, and the same PINs from the same secret', () => {
    const secret = newActivationSecret();
    const a = tokenPins(secret, 'uid-a');
    assert.match(a.user.toString('ascii'), /^[0-9a-f]{32}$/);
    assert.notDeepEqual(a.user, a.so);
    assert.deepEqual(tokenPins(secret, 'uid-a').user, a.user);
    assert.notDeepEqual(tokenPins(secret, 'uid-b').user, a.user);
    assert.ok(!activationAuthenticator(secret, 'uid-a').includes(a.user.toString('ascii')));
  });

  it('refuses a threshold that does not fit', async () => {
    await assert.rejects(splitSecret(newActivationSecret(), 3, 4), RangeError);
  });
});
