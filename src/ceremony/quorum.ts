// Dual control: which approvals count. Each approval goes through a chain of small checks; the first that fails
// says why, in a reason (a constant below) and a message a person understands. Only signatures made with a
// participant's own key count, and each custodian counts once, so nothing that Kubernetes RBAC alone lets someone
// write (an approval object, a status) can make a quorum.
import type { KeyCeremonyApprovalObject } from '../api/v1alpha1/keyceremonyapproval.ts';
import { participantKey } from './participants.ts';
import type { ParticipantKey } from './participants.ts';
import { decodeBase64, verifyPersonalSignature } from './signatures.ts';

export const Refusal = {
  /** The approval names another ceremony than the one it is counted for. */
  WrongCeremony: 'WrongCeremony',
  /** The signer is not a custodian (or witness) of the ceremony. */
  SignerNotInSpec: 'SignerNotInSpec',
  /** The signed digest is the challenge of another ceremony. */
  OtherCeremony: 'OtherCeremony',
  /** The signed digest is not this ceremony's challenge (or transcript head). */
  DigestMismatch: 'DigestMismatch',
  /** A witness signed before the transcript was sealed. */
  TranscriptNotSealed: 'TranscriptNotSealed',
  /** The signature is not base64, or does not verify with the signer's key. */
  SignatureInvalid: 'SignatureInvalid',
  /** The signer's public key in the spec cannot be used. */
  SignerKeyUnusable: 'SignerKeyUnusable',
  /** The signer already has an approval that counts. */
  DuplicateApproval: 'DuplicateApproval',
} as const;
export type RefusalReason = (typeof Refusal)[keyof typeof Refusal];

export interface Finding {
  readonly reason: RefusalReason;
  readonly message: string;
}

/** What the checks need to know about the ceremony. */
export interface CeremonyView {
  readonly name: string;
  readonly custodians: readonly { name: string; publicKey: string }[];
  readonly witnesses: readonly { name: string; publicKey: string }[];
  /** status.challenge */
  readonly challenge: string;
  /** The sealed transcript head, once there is one. */
  readonly head?: string;
  /** The ceremony whose challenge a digest is, if any other in the namespace has it. */
  readonly challengeOf: (digest: string) => string | undefined;
}

interface Subject {
  readonly approval: KeyCeremonyApprovalObject;
  readonly ceremony: CeremonyView;
}
type Check = (subject: Subject) => Finding | undefined;

const describe = ({ approval }: Subject): string =>
  `approval ${approval.metadata.name ?? ''} by ${approval.spec.signer}`;

function roster({ approval, ceremony }: Subject): readonly { name: string; publicKey: string }[] {
  return approval.spec.role === 'Custodian' ? ceremony.custodians : ceremony.witnesses;
}

function signerOf(subject: Subject): ParticipantKey | Finding {
  const entry = roster(subject).find((p) => p.name === subject.approval.spec.signer);
  if (!entry) {
    return {
      reason: Refusal.SignerNotInSpec,
      message: `${describe(subject)}: ${subject.approval.spec.signer} is not a ${subject.approval.spec.role.toLowerCase()} of ceremony ${subject.ceremony.name}`,
    };
  }
  try {
    return participantKey(entry);
  } catch (error) {
    return {
      reason: Refusal.SignerKeyUnusable,
      message: `${describe(subject)}: ${(error as Error).message}`,
    };
  }
}

const sameCeremony: Check = (subject) =>
  subject.approval.spec.ceremonyRef.name === subject.ceremony.name
    ? undefined
    : {
        reason: Refusal.WrongCeremony,
        message: `${describe(subject)} is for ceremony ${subject.approval.spec.ceremonyRef.name}, not ${subject.ceremony.name}`,
      };

const signerListed: Check = (subject) => {
  const signer = signerOf(subject);
  return 'reason' in signer ? signer : undefined;
};

const rightDigest: Check = (subject) => {
  const { approval, ceremony } = subject;
  const signed = approval.spec.signedDigest;
  const expected = approval.spec.role === 'Custodian' ? ceremony.challenge : ceremony.head;
  if (expected === undefined) {
    return {
      reason: Refusal.TranscriptNotSealed,
      message: `${describe(subject)}: witnesses sign the transcript head, which exists once the ceremony has run; sign it then`,
    };
  }
  if (signed === expected) return undefined;
  const other = ceremony.challengeOf(signed);
  if (other !== undefined && other !== ceremony.name) {
    return {
      reason: Refusal.OtherCeremony,
      message: `${describe(subject)} signs the challenge of ceremony ${other}, not of ${ceremony.name}; an approval cannot be reused`,
    };
  }
  const what = approval.spec.role === 'Custodian' ? 'challenge' : 'transcript head';
  return {
    reason: Refusal.DigestMismatch,
    message: `${describe(subject)} signs ${signed}, but the ${what} of ceremony ${ceremony.name} is ${expected}`,
  };
};

const signatureVerifies: Check = (subject) => {
  const signer = signerOf(subject);
  if ('reason' in signer) return signer;
  const signature = decodeBase64(subject.approval.spec.signature);
  if (signature && verifyPersonalSignature(signer, subject.approval.spec.signedDigest, signature))
    return undefined;
  return {
    reason: Refusal.SignatureInvalid,
    message: `${describe(subject)}: the signature does not verify with the public key of ${signer.name} (${signer.fingerprint}); sign the UTF-8 text of signedDigest with your own key`,
  };
};

const CHECKS: readonly Check[] = [sameCeremony, signerListed, rightDigest, signatureVerifies];

/** The first check that refuses the approval on its own (without looking at other approvals), if any. */
export function checkApproval(
  approval: KeyCeremonyApprovalObject,
  ceremony: CeremonyView,
): Finding | undefined {
  for (const check of CHECKS) {
    const finding = check({ approval, ceremony });
    if (finding) return finding;
  }
  return undefined;
}

export interface Tally {
  /** Signers whose approval counts, in the order their approvals were made. */
  readonly approvedBy: string[];
  /** Approvals that count, by signer. */
  readonly counted: Map<string, KeyCeremonyApprovalObject>;
  /** Refused approvals, by approval name. */
  readonly refused: Map<string, Finding>;
}

/** The oldest first, so that the first valid approval of a person is the one that counts. */
function byAge(a: KeyCeremonyApprovalObject, b: KeyCeremonyApprovalObject): number {
  const at = a.metadata.creationTimestamp ?? '';
  const bt = b.metadata.creationTimestamp ?? '';
  if (at !== bt) return at < bt ? -1 : 1;
  const an = a.metadata.name ?? '';
  const bn = b.metadata.name ?? '';
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/** Counts the approvals of one role: distinct signers with a verified signature over the right digest. */
export function tally(
  approvals: readonly KeyCeremonyApprovalObject[],
  role: 'Custodian' | 'Witness',
  ceremony: CeremonyView,
): Tally {
  const counted = new Map<string, KeyCeremonyApprovalObject>();
  const refused = new Map<string, Finding>();
  for (const approval of approvals.filter((a) => a.spec.role === role).sort(byAge)) {
    const name = approval.metadata.name ?? '';
    const finding = checkApproval(approval, ceremony);
    const first = counted.get(approval.spec.signer);
    if (finding) refused.set(name, finding);
    else if (first) {
      refused.set(name, {
        reason: Refusal.DuplicateApproval,
        message: `approval ${name} by ${approval.spec.signer}: ${approval.spec.signer} already approved (approval ${first.metadata.name ?? ''}); each person counts once`,
      });
    } else counted.set(approval.spec.signer, approval);
  }
  return { approvedBy: [...counted.keys()], counted, refused };
}
