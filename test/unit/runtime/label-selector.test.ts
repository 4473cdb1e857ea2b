import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesLabelSelector } from '../../../src/kube/label-selector.ts';

test('label selectors match as the API server does', () => {
  const labels = { team: 'payments', tier: 'prod' };
  const cases: [Parameters<typeof matchesLabelSelector>[0], boolean][] = [
    [undefined, true],
    [{}, true],
    [{ matchLabels: { team: 'payments' } }, true],
    [{ matchLabels: { team: 'search' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['prod', 'staging'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['prod'] }] }, false],
    [{ matchExpressions: [{ key: 'owner', operator: 'NotIn', values: ['x'] }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'DoesNotExist' }] }, false],
    [
      {
        matchLabels: { team: 'payments' },
        matchExpressions: [{ key: 'owner', operator: 'Exists' }],
      },
      false,
    ],
  ];
  for (const [selector, expected] of cases) {
    assert.equal(matchesLabelSelector(selector, labels), expected, JSON.stringify(selector));
  }
});
