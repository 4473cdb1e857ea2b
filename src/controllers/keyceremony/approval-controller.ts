// The KeyCeremonyApproval controller: tells the person who submitted an approval whether it counts, and if not,
// why (status.verified and a Verified condition). The ceremony controller decides the quorum itself, from the
// signatures, never from this status.
import type { KeyCeremonyApprovalObject } from '../../api/v1alpha1/keyceremonyapproval.ts';
import type { KeyCeremonyObject } from '../../api/v1alpha1/keyceremony.ts';
import { tally } from '../../ceremony/quorum.ts';
import type { Finding } from '../../ceremony/quorum.ts';
import { formatTime } from '../../runtime/clock.ts';
import { setCondition } from '../../runtime/conditions.ts';
import type { ControllerDefinition } from '../../runtime/controller.ts';
import type { Informer } from '../../runtime/informer.ts';
import { statusAccess, updateStatus } from '../../runtime/status.ts';
import { keyApprovalType, keyCeremonyType } from './context.ts';
import { approvalsOf, ceremonyView } from './view.ts';

export interface ApprovalDeps {
  readonly ceremonies: Informer<KeyCeremonyObject>;
  readonly approvals: Informer<KeyCeremonyApprovalObject>;
}

/** Why the approval does not count, or undefined when it does; waiting states are findings too. */
function verdict(
  approval: KeyCeremonyApprovalObject,
  deps: ApprovalDeps,
): Finding | { waiting: string } | undefined {
  const namespace = approval.metadata.namespace ?? '';
  const ceremony = deps.ceremonies.get(namespace, approval.spec.ceremonyRef.name);
  if (!ceremony)
    return { waiting: `KeyCeremony ${namespace}/${approval.spec.ceremonyRef.name} does not exist` };
  if (!ceremony.status?.challenge)
    return { waiting: `KeyCeremony ${ceremony.metadata.name ?? ''} has no challenge yet` };
  const result = tally(approvalsOf(deps, ceremony), approval.spec.role, ceremonyView(ceremony, deps));
  return result.refused.get(approval.metadata.name ?? '');
}

export function keyApprovalController(deps: ApprovalDeps): ControllerDefinition<KeyCeremonyApprovalObject> {
  return {
    name: 'keyceremonyapproval',
    resource: keyApprovalType,
    access: [statusAccess(keyApprovalType)],
    watches: [
      {
        resource: keyCeremonyType,
        map: (ceremony) =>
          approvalsOf(deps, ceremony as KeyCeremonyObject).map(
            (a) => `${a.metadata.namespace ?? ''}/${a.metadata.name ?? ''}`,
          ),
      },
    ],
    reconcile: async (approval, context) => {
      const found = verdict(approval, deps);
      const now = context.clock.now();
      const generation = approval.metadata.generation ?? 0;
      const current = approval.status ?? {};
      const [verified, reason, message] =
        found === undefined
          ? [true, 'SignatureVerified', `the signature of ${approval.spec.signer} verified and counts`]
          : 'waiting' in found
            ? [false, 'CeremonyNotReady', found.waiting]
            : [false, found.reason, found.message];
      await updateStatus(context.client, keyApprovalType, approval, {
        observedGeneration: generation,
        verified,
        verifiedTime:
          current.verified === verified && current.verifiedTime ? current.verifiedTime : formatTime(now),
        conditions: setCondition(
          current.conditions,
          {
            type: 'Verified',
            status: verified ? 'True' : 'False',
            reason,
            message,
            observedGeneration: generation,
          },
          now,
        ),
      });
      return {};
    },
  };
}
