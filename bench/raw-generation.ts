// The baseline: the same token generating keys through pkcs11js with no operator, with the templates the backend
// uses and as many generations in flight as the operator has workers. Timed in blocks, so the rate at each token
// size is seen (a token whose lookups or writes grow with its size shows it here too).

import { randomUUID } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { Algorithm } from '../src/backends/algorithms.ts';
import type { KeyIdentity } from '../src/backends/identity.ts';
import { generationRequest } from '../src/backends/pkcs11/generation.ts';
import { type ModuleLease, openModule } from '../src/backends/pkcs11/module.ts';
import { objectIdentity } from '../src/backends/pkcs11/object-identity.ts';
import { findToken } from '../src/backends/pkcs11/token.ts';
import { VENDOR_PROFILES } from '../src/backends/pkcs11/vendors.ts';
import { SOFTHSM_MODULE, type SoftHsmToken } from '../test/support/softhsm.ts';

export interface GenerationRun {
  readonly algorithm: Algorithm;
  readonly keys: number;
  /** Objects on the token before the run. */
  readonly objectsBefore: number;
  readonly seconds: number;
  /** CPU time of this process (user + system, SoftHSM's threads included) over the run. */
  readonly cpuSeconds: number;
  /** Milliseconds per key of each block of the run, in order. */
  readonly blocks: readonly { readonly keysBefore: number; readonly msPerKey: number }[];
}

export class RawToken {
  readonly #lease: ModuleLease;
  readonly #sessions: pkcs11js.Handle[];
  #objects = 0;

  private constructor(lease: ModuleLease, sessions: pkcs11js.Handle[]) {
    this.#lease = lease;
    this.#sessions = sessions;
  }

  static open(token: SoftHsmToken, parallel: number): RawToken {
    const lease = openModule(SOFTHSM_MODULE);
    const { slot } = findToken(lease.pkcs11, lease.path, { label: token.label });
    const flags = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;
    const sessions = Array.from({ length: parallel }, () => lease.pkcs11.C_OpenSession(slot, flags));
    const [first] = sessions;
    if (first === undefined) throw new Error('no session');
    lease.pkcs11.C_Login(first, pkcs11js.CKU_USER, token.pin);
    return new RawToken(lease, sessions);
  }

  /**
   * Generates `keys` keys of `algorithm`, `sessions` at a time, timing every `blockSize` keys; key i of the run has
   * `identities[i]` when given (a random uid otherwise).
   */
  async generate(
    algorithm: Algorithm,
    keys: number,
    blockSize: number,
    identities?: readonly KeyIdentity[],
  ): Promise<GenerationRun> {
    const profile = VENDOR_PROFILES.softhsm2;
    const objectsBefore = this.#objects;
    const blocks: { keysBefore: number; msPerKey: number }[] = [];
    const started = performance.now();
    const cpuBefore = process.cpuUsage();
    let next = 0;
    let blockStarted = started;
    let blockDone = 0;
    const worker = async (session: pkcs11js.Handle): Promise<void> => {
      while (next < keys) {
        const identity = identities?.[next] ?? {
          uid: randomUUID(),
          namespace: 'raw',
          name: 'key',
          version: 1,
        };
        next++;
        const oid = objectIdentity(identity, profile);
        const id = oid.ids[0] ?? Buffer.alloc(16);
        const request = generationRequest({ algorithm, usages: ['sign', 'verify'] }, oid, id, profile);
        if (request.kind !== 'pair') throw new Error(`${algorithm} is not a key pair`);
        await this.#lease.pkcs11.C_GenerateKeyPairAsync(
          session,
          request.mechanism,
          request.publicTemplate,
          request.privateTemplate,
        );
        this.#objects += 2;
        blockDone++;
        if (blockDone === blockSize) {
          const now = performance.now();
          blocks.push({
            keysBefore: objectsBefore / 2 + blocks.length * blockSize,
            msPerKey: (now - blockStarted) / blockSize,
          });
          blockStarted = now;
          blockDone = 0;
        }
      }
    };
    await Promise.all(this.#sessions.map(worker));
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { algorithm, keys, objectsBefore, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, blocks };
  }

  close(): void {
    for (const session of this.#sessions) this.#lease.pkcs11.C_CloseSession(session);
    this.#lease.release();
  }
}
