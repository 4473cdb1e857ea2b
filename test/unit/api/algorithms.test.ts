import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALGORITHMS, ALLOWED_USAGES, usageRules } from '../../../src/api/algorithms.ts';

test('every algorithm that does not allow every usage is covered by exactly one admission rule', () => {
  const rules = usageRules();
  for (const algorithm of ALGORITHMS) {
    const covering = rules.filter((r) => r.rule.includes(`'${algorithm}'`));
    assert.equal(covering.length, ALLOWED_USAGES[algorithm].length === 6 ? 0 : 1, algorithm);
  }
});

test('usage rule messages name the algorithms and the usages they allow', () => {
  const messages = usageRules().map((r) => r.message);
  assert.ok(
    messages.includes('AES_256 keys can only be used to encrypt, decrypt, wrap and unwrap'),
    messages.join('\n'),
  );
  assert.ok(
    messages.includes(
      'EC_P256, EC_P384, EC_P521, ED25519 and HMAC_SHA256 keys can only be used to sign and verify',
    ),
    messages.join('\n'),
  );
});
