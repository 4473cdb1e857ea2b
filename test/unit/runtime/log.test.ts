import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createLogger, describeError, redactedMarker } from '../../../src/log.ts';

function capture(level: 'debug' | 'info' | 'warn' | 'error' = 'info') {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({
    level,
    now: () => Date.UTC(2024, 0, 1),
    write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>),
  });
  return { log, lines };
}

describe('logger', () => {
  it('writes one JSON object per line with level, time, message and bound fields', () => {
    const { log, lines } = capture();
    log
      .child({ controller: 'managedkey' })
      .child({ namespace: 'ns', name: 'k' })
      .info('reconciled', { took: 3 });
    assert.deepEqual(lines, [
      {
        level: 'info',
        ts: '2024-01-01T00:00:00.000Z',
        msg: 'reconciled',
        controller: 'managedkey',
        namespace: 'ns',
        name: 'k',
        took: 3,
      },
    ]);
  });

  it('drops lines below its level', () => {
    const { log, lines } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    assert.deepEqual(
      lines.map((line) => line.level),
      ['warn', 'error'],
    );
    assert.equal(log.enabled('info'), false);
    assert.equal(log.enabled('error'), true);
  });

  it('redacts fields named like secrets at any depth', () => {
    const { log, lines } = capture();
    log.info('connect', {
      pin: '1234',
      backend: { password: 'hunter2', label: 'tok', nested: [{ Token: 'x' }] },
    });
    const text = JSON.stringify(lines);
    assert.ok(!text.includes('1234') && !text.includes('hunter2') && !text.includes('"x"'), text);
    assert.equal(lines[0]?.pin, redactedMarker);
    assert.ok(text.includes('"label":"tok"'));
  });

  it('logs errors as their message and type, with the network cause', () => {
    const { log, lines } = capture();
    const err = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:1') });
    log.error('request failed', { err });
    assert.deepEqual(lines[0]?.err, {
      error: 'fetch failed: connect ECONNREFUSED 127.0.0.1:1',
      type: 'TypeError',
    });
    assert.equal(describeError('plain'), 'plain');
  });
});
