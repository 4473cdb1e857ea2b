// docs/security.md names, for each property, the test file and the test that proves it: both must exist, so the
// page cannot drift from the suite.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..', '..');

test('every test docs/security.md cites exists, in the file it names', () => {
  const doc = readFileSync(join(root, 'docs', 'security.md'), 'utf8');
  const rows = [...doc.matchAll(/^\|[^|]+\|\s*`(test\/[^`]+)`\s*\|\s*"([^"]+)"\s*\|$/gm)];
  assert.ok(rows.length >= 30, `only ${String(rows.length)} cited tests`);
  for (const [, file = '', name = ''] of rows) {
    const path = join(root, file);
    assert.ok(existsSync(path), `${file} does not exist`);
    assert.ok(readFileSync(path, 'utf8').includes(name), `${file} has no test "${name}"`);
  }
});
