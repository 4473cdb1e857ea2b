// What a restarted operator's backend costs before every key counts as verified: the enumeration at connect, then
// observe() and publicKey() of each recorded version once (verifyVersions), with the token's attribute reads counted
// and the heap measured after each step. The token is filled through pkcs11js to each size with EC P-256 keys. Wall
// times on a shared machine move with its load; CPU times (the process's, SoftHSM's included) less so.
//
//   npx node --expose-gc bench/restart-verification.ts [--sizes 2000,10000]

import { parseArgs } from 'node:util';
import type { KeyIdentity } from '../src/backends/identity.ts';
import { openModule } from '../src/backends/pkcs11/module.ts';
import { objectIdentity } from '../src/backends/pkcs11/object-identity.ts';
import { Pkcs11Backend } from '../src/backends/pkcs11/pkcs11-backend.ts';
import { VENDOR_PROFILES } from '../src/backends/pkcs11/vendors.ts';
import { countCalls } from '../test/support/pkcs11-calls.ts';
import { SOFTHSM_MODULE, SoftHsm } from '../test/support/softhsm.ts';
import { RawToken } from './raw-generation.ts';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '2000,10000' } } });
const sizes = values.sizes.split(',').map(Number);
const PARALLEL = 4;

const collect = (globalThis as { gc?: () => void }).gc;
/** CPU time of this process (every thread: SoftHSM runs in it) since `since`. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1000;
}

/** The V8 heap and the memory of ArrayBuffers (Buffers' bytes), in MB. */
function heapMB(): number {
  collect?.();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return (heapUsed + arrayBuffers) / 1e6;
}

const hsm = SoftHsm.create();
const token = hsm.initToken('bench-restart');
const raw = RawToken.open(token, PARALLEL);
const lease = openModule(SOFTHSM_MODULE);
const reads = countCalls(lease.pkcs11, 'C_GetAttributeValue');
const recorded: KeyIdentity[] = [];
const rows: string[] = [];
for (const size of sizes) {
  const added = Array.from({ length: size - recorded.length }, (_, i) => ({
    uid: `bench-${recorded.length + i}`,
    namespace: 'bench',
    name: `key-${recorded.length + i}`,
    version: 1,
  }));
  await raw.generate('EC_P256', added.length, added.length, added);
  for (const identity of added) {
    const id = objectIdentity(identity, VENDOR_PROFILES.softhsm2).ids[0]?.toString('hex');
    recorded.push({ ...identity, versionId: id });
  }

  const heapBefore = heapMB();
  let readsBefore = reads.count;
  let started = performance.now();
  let cpu = process.cpuUsage();
  const backend = await Pkcs11Backend.connect({
    modulePath: SOFTHSM_MODULE,
    vendor: 'softhsm2',
    token: { label: token.label },
    pin: Buffer.from(token.pin),
    maxSessions: PARALLEL,
  });
  const connectMs = performance.now() - started;
  const connectCpuMs = cpuMs(cpu);
  const connectReads = reads.count - readsBefore;
  const heapConnected = heapMB();

  readsBefore = reads.count;
  started = performance.now();
  cpu = process.cpuUsage();
  for (const identity of recorded) {
    if ((await backend.observe(identity))?.algorithm !== 'EC_P256') throw new Error('a key is missing');
    await backend.publicKey(identity);
  }
  const verifyMs = performance.now() - started;
  const verifyCpuMs = cpuMs(cpu);
  const verifyReads = reads.count - readsBefore;
  const heapVerified = heapMB();
  await backend.close();

  const row =
    `| ${size} | ${connectMs.toFixed(0)} ms (${connectCpuMs.toFixed(0)} ms CPU) | ${(connectReads / (2 * size)).toFixed(2)} | ` +
    `${verifyMs.toFixed(0)} ms (${verifyCpuMs.toFixed(0)} ms CPU) | ${(verifyReads / size).toFixed(2)} | ` +
    `${(heapConnected - heapBefore).toFixed(1)} MB | ${(heapVerified - heapBefore).toFixed(1)} MB |`;
  rows.push(row);
  process.stderr.write(`${row}\n`);
}
reads.restore();
lease.release();
raw.close();
hsm.cleanup();
console.log(
  [
    `Restart verification, EC_P256${collect === undefined ? ' (heap without --expose-gc: not collected)' : ''}`,
    '',
    '| keys | connect (enumeration) | attribute reads per object | observe + publicKey of every key | attribute reads per key | heap and buffers: after connect | after verification |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n'),
);
process.exit(0);
