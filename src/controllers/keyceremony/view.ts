// How the ceremony controllers look at a ceremony and its approvals.
import type { KeyCeremonyObject } from '../../api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyApprovalObject } from '../../api/v1alpha1/keyceremonyapproval.ts';
import type { CeremonyView } from '../../ceremony/quorum.ts';
import type { Informer } from '../../runtime/informer.ts';

/** The approvals index: "namespace/ceremony" of the ceremony an approval names. */
export const BY_CEREMONY = 'ceremony';

export function approvalsOf(
  deps: { readonly approvals: Informer<KeyCeremonyApprovalObject> },
  ceremony: KeyCeremonyObject,
) {
  return deps.approvals.byIndex(
    BY_CEREMONY,
    `${ceremony.metadata.namespace ?? ''}/${ceremony.metadata.name ?? ''}`,
  );
}

/** What the quorum checks see of a ceremony. */
export function ceremonyView(
  ceremony: KeyCeremonyObject,
  deps: { readonly ceremonies: Informer<KeyCeremonyObject> },
): CeremonyView {
  const namespace = ceremony.metadata.namespace ?? '';
  const sealed = ceremony.status?.phase === 'AwaitingWitnesses' || ceremony.status?.phase === 'Completed';
  return {
    name: ceremony.metadata.name ?? '',
    custodians: ceremony.spec.quorum.custodians,
    witnesses: ceremony.spec.witnesses,
    challenge: ceremony.status?.challenge ?? '',
    ...(sealed && ceremony.status?.transcript ? { head: ceremony.status.transcript.headHash } : {}),
    challengeOf: (digest) =>
      deps.ceremonies.list(namespace).find((c) => c.status?.challenge === digest)?.metadata.name,
  };
}
