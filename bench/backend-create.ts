// How Pkcs11Backend.create scales with the keys already on the token, against raw generation at the same size:
// the token is filled through pkcs11js to each size, the backend enumerates it (refresh), and a sample of creates
// is timed with as many in flight as the operator has workers.
//
//   node bench/backend-create.ts [--sizes 1000,10000] [--sample 100]

import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Pkcs11Backend } from '../src/backends/pkcs11/pkcs11-backend.ts';
import { SOFTHSM_MODULE, SoftHsm } from '../test/support/softhsm.ts';
import { RawToken } from './raw-generation.ts';

const { values } = parseArgs({
  options: { sizes: { type: 'string', default: '1000,10000' }, sample: { type: 'string', default: '100' } },
});
const sizes = values.sizes.split(',').map(Number);
const SAMPLE = Number(values.sample);
const PARALLEL = 4;

const hsm = SoftHsm.create();
const token = hsm.initToken('bench-create');
const raw = RawToken.open(token, PARALLEL);
const backend = await Pkcs11Backend.connect({
  modulePath: SOFTHSM_MODULE,
  vendor: 'softhsm2',
  token: { label: token.label },
  pin: Buffer.from(token.pin),
  maxSessions: PARALLEL,
});
let keys = 0;
const rows: string[] = [];
for (const size of sizes) {
  if (size > keys) await raw.generate('EC_P256', size - keys, size - keys);
  keys = size;
  let started = performance.now();
  await backend.refresh();
  const enumerateMs = performance.now() - started;
  const rawSample = await raw.generate('EC_P256', SAMPLE, SAMPLE);
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: PARALLEL }, async () => {
      while (next < SAMPLE) {
        next++;
        const identity = { uid: randomUUID(), namespace: 'bench', name: `key-${next}`, version: 1 };
        const { outcome } = await backend.create(identity, {
          algorithm: 'EC_P256',
          usages: ['sign', 'verify'],
        });
        if (outcome !== 'created') throw new Error(`expected a new key, got ${outcome}`);
      }
    }),
  );
  const createMs = (performance.now() - started) / SAMPLE;
  keys += 2 * SAMPLE;
  const row = `| ${size} | ${enumerateMs.toFixed(0)} ms | ${((rawSample.seconds * 1000) / SAMPLE).toFixed(2)} ms | ${createMs.toFixed(2)} ms |`;
  rows.push(row);
  process.stderr.write(`${row}\n`);
}
await backend.close();
raw.close();
hsm.cleanup();
console.log(
  [
    `Pkcs11Backend.create, EC_P256, ${SAMPLE} keys per size, ${PARALLEL} in flight (wall time per key)`,
    '',
    '| keys on the token | one enumeration (refresh) | raw C_GenerateKeyPair | backend.create |',
    '|---|---|---|---|',
    ...rows,
  ].join('\n'),
);
process.exit(0);
