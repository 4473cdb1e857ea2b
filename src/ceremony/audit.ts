// Checks a ceremony's record as an auditor would, from the objects alone: the challenge is the digest of the uid and
// spec, the transcript chain holds from that challenge to the head in status, and every witness signed that head.
import type { KeyCeremonyObject } from '../api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyApprovalObject } from '../api/v1alpha1/keyceremonyapproval.ts';
import { ceremonyChallenge } from './challenge.ts';
import { tally } from './quorum.ts';
import { verifyChain } from './transcript.ts';
import type { TranscriptEntry } from './transcript.ts';

/** Every problem found; an empty list means the record verifies. */
export function auditCeremony(
  ceremony: KeyCeremonyObject,
  entries: readonly TranscriptEntry[],
  approvals: readonly KeyCeremonyApprovalObject[],
): string[] {
  const problems: string[] = [];
  const challenge = ceremonyChallenge(ceremony.metadata.uid ?? '', ceremony.spec);
  if (ceremony.status?.challenge !== challenge) {
    problems.push(
      `status.challenge ${ceremony.status?.challenge ?? '(none)'} is not the digest of the uid and spec (${challenge})`,
    );
  }
  const broken = verifyChain(entries, challenge);
  if (broken) problems.push(`transcript: ${broken}`);
  const head = entries.at(-1)?.hash;
  if (head !== ceremony.status?.transcript?.headHash) {
    problems.push(
      `transcript head ${head ?? '(none)'} is not the head in status (${ceremony.status?.transcript?.headHash ?? '(none)'})`,
    );
  }
  if (head !== undefined) {
    const view = {
      name: ceremony.metadata.name ?? '',
      custodians: ceremony.spec.quorum.custodians,
      witnesses: ceremony.spec.witnesses,
      challenge,
      head,
      challengeOf: () => undefined,
    };
    const witnessed = tally(approvals, 'Witness', view);
    for (const witness of ceremony.spec.witnesses) {
      if (!witnessed.counted.has(witness.name))
        problems.push(`witness ${witness.name} has no valid signature over the head ${head}`);
    }
  }
  return problems;
}
