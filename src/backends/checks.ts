// The checks every backend would otherwise repeat, as a chain of small functions that each return a Problem (a
// reason a tool can match on and a message for a person) or undefined. A backend runs the chain before it calls its
// peer and throws the first problem as an UnsupportedError, so a spec the backend cannot serve fails the same way,
// with the same words, whichever backend it was sent to.
import { type Algorithm, type KeyUsage, disallowedUsages, signatureDigest } from './algorithms.ts';
import type { BackendCapabilities, KeySpec, SignInput } from './backend.ts';
import { UnsupportedError } from './errors.ts';

export const CheckReason = {
  AlgorithmNotOffered: 'AlgorithmNotOffered',
  NoUsages: 'NoUsages',
  UsageNotAllowed: 'UsageNotAllowed',
  DigestMismatch: 'DigestMismatch',
  DigestLength: 'DigestLength',
  DigestNotSupported: 'DigestNotSupported',
  NotASigningKey: 'NotASigningKey',
} as const;

export interface Problem {
  readonly reason: (typeof CheckReason)[keyof typeof CheckReason];
  readonly message: string;
}

export type Check<T> = (subject: T) => Problem | undefined;

/** The first problem the chain finds, or undefined. */
export function firstProblem<T>(subject: T, checks: readonly Check<T>[]): Problem | undefined {
  for (const check of checks) {
    const problem = check(subject);
    if (problem) return problem;
  }
  return undefined;
}

/** Throws the first problem as an UnsupportedError (retrying cannot help). */
export function assertNoProblem<T>(subject: T, checks: readonly Check<T>[]): void {
  const problem = firstProblem(subject, checks);
  if (problem) throw new UnsupportedError(problem.message, { cause: problem.reason });
}

interface SpecSubject {
  readonly spec: KeySpec;
  readonly capabilities: BackendCapabilities;
  /** What the backend calls itself in messages, e.g. `token "keyward-dev"`. */
  readonly where: string;
}

const algorithmOffered: Check<SpecSubject> = ({ spec, capabilities, where }) =>
  capabilities.algorithms.includes(spec.algorithm)
    ? undefined
    : {
        reason: CheckReason.AlgorithmNotOffered,
        message: `${where} does not offer ${spec.algorithm} keys; it offers ${capabilities.algorithms.join(', ') || 'none'}`,
      };

const someUsage: Check<SpecSubject> = ({ spec }) =>
  spec.usages.length > 0
    ? undefined
    : { reason: CheckReason.NoUsages, message: 'a key needs at least one usage' };

interface UsagesSubject {
  readonly algorithm: Algorithm;
  readonly usages: readonly KeyUsage[];
}

const usagesOfAlgorithm: Check<UsagesSubject> = ({ algorithm, usages }) => {
  const disallowed = disallowedUsages(algorithm, usages);
  return disallowed.length === 0
    ? undefined
    : { reason: CheckReason.UsageNotAllowed, message: `${algorithm} keys cannot ${disallowed.join(', ')}` };
};

const usagesAllowed: Check<SpecSubject> = ({ spec }) => usagesOfAlgorithm(spec);

export const KEY_SPEC_CHECKS: readonly Check<SpecSubject>[] = [algorithmOffered, someUsage, usagesAllowed];

/** Whether the backend can make this key as asked; throws UnsupportedError with the first problem. */
export function assertKeySpec(spec: KeySpec, capabilities: BackendCapabilities, where: string): void {
  assertNoProblem({ spec, capabilities, where }, KEY_SPEC_CHECKS);
}

/** Whether `usages` may be set on a key of `algorithm` (an empty list, disabling it, always may). */
export function assertUsagesAllowed(algorithm: Algorithm, usages: readonly KeyUsage[]): void {
  assertNoProblem({ algorithm, usages }, [usagesOfAlgorithm]);
}

const DIGEST_LENGTH = { sha256: 32, sha384: 48, sha512: 64 } as const;

interface SignSubject {
  readonly algorithm: Algorithm;
  readonly input: SignInput;
}

const signingKey: Check<SignSubject> = ({ algorithm }) =>
  algorithm === 'AES_256'
    ? { reason: CheckReason.NotASigningKey, message: `${algorithm} keys do not sign` }
    : undefined;

const digestOfTheKeysHash: Check<SignSubject> = ({ algorithm, input }) => {
  if (!('digest' in input)) return undefined;
  const expected = signatureDigest(algorithm);
  // Ed25519 is PureEdDSA and an HMAC covers the message itself: neither has a digest to hand over.
  if (expected === undefined || algorithm === 'HMAC_SHA256') {
    return { reason: CheckReason.DigestNotSupported, message: `${algorithm} signs messages, not digests` };
  }
  if (input.hash !== expected) {
    return {
      reason: CheckReason.DigestMismatch,
      message: `${algorithm} keys sign ${expected} digests, not ${input.hash}`,
    };
  }
  return input.digest.length === DIGEST_LENGTH[input.hash]
    ? undefined
    : {
        reason: CheckReason.DigestLength,
        message: `a ${input.hash} digest is ${DIGEST_LENGTH[input.hash]} bytes, not ${input.digest.length}`,
      };
};

/** Whether a key of `algorithm` can sign `input`; throws UnsupportedError with the first problem. */
export function assertSignInput(algorithm: Algorithm, input: SignInput): void {
  assertNoProblem({ algorithm, input }, [signingKey, digestOfTheKeysHash]);
}
