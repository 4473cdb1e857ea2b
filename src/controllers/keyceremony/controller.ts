// The KeyCeremony controller: runs a RootKeyGeneration ceremony through its seven steps, and a KeyActivation
// (activation.ts) or KeyDestruction (destruction.ts) of the root key through their five.
//   Preparation -> AwaitingQuorum (custodians sign the challenge; for an activation or a destruction, each also
//   brings a share) ->
//   Running (the HSM work, in one go) -> AwaitingWitnesses (the sealed transcript's head) -> Completed; or Failed,
//   or Expired at the deadline.
// Every approval is verified here from its signature, whatever its status says: a status is writable by anyone
// with RBAC on it, a signature only by the holder of the key.
import { ConditionType } from '../../api/v1alpha1/conditions.ts';
import type { KeyBackendObject } from '../../api/v1alpha1/keybackend.ts';
import type { KeyCeremonyObject } from '../../api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyApprovalObject } from '../../api/v1alpha1/keyceremonyapproval.ts';
import { isBackendError } from '../../backends/errors.ts';
import { tally } from '../../ceremony/quorum.ts';
import type { ControllerDefinition, ReconcileResult } from '../../runtime/controller.ts';
import { formatTime } from '../../runtime/clock.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { statusAccess } from '../../runtime/status.ts';
import type { Informer } from '../../runtime/informer.ts';
import type { ConfigMap } from '../managedkey/distribution.ts';
import {
  destructionAccess,
  resolveOnlineTarget,
  runDestruction,
  runOnlineDestruction,
} from './destruction.ts';
import { recoveryAccess } from '../managedkey/recovery.ts';
import { keyRecoveryAccess, resolveRecoveryTarget, runRecovery } from './recovery.ts';
import type { BackendConnections } from '../keybackend/connections.ts';
import {
  activationAccess,
  activationCheck,
  targetProblem,
  dropRecipient,
  ensureRecipient,
  reconstructSecret,
  resolveRootTarget,
  runActivation,
} from './activation.ts';
import { CeremonyRun, keyApprovalType, keyCeremonyType } from './context.ts';
import type { Finding } from './findings.ts';
import { prepare, specProblem } from './preparation.ts';
import {
  CeremonyRefusal,
  describeBegun,
  rootGenerationAccess,
  runRootGeneration,
} from './root-generation.ts';
import { withStep } from './steps.ts';
import { Transcript, TranscriptConflictError, transcriptAccess } from './transcript-store.ts';
import { approvalsOf, ceremonyView } from './view.ts';

const TERMINAL = new Set(['Completed', 'Failed', 'Expired']);
/** The ceremony types this version carries out; the others get Ready=False NotImplemented. */
const CARRIED_OUT = new Set(['RootKeyGeneration', 'KeyActivation', 'KeyDestruction', 'KeyRecovery']);

export interface KeyCeremonyDeps {
  readonly keyBackends: Informer<KeyBackendObject>;
  readonly ceremonies: Informer<KeyCeremonyObject>;
  readonly approvals: Informer<KeyCeremonyApprovalObject>;
  readonly configMaps: Informer<ConfigMap>;
  readonly countResult: (result: 'Completed' | 'Failed' | 'Expired') => void;
  /** The online backends' connections, for a KeyRecovery into one. */
  readonly connections: BackendConnections;
}

export function keyCeremonyController(deps: KeyCeremonyDeps): ControllerDefinition<KeyCeremonyObject> {
  return {
    name: 'keyceremony',
    resource: keyCeremonyType,
    access: [
      statusAccess(keyCeremonyType),
      transcriptAccess,
      ...rootGenerationAccess,
      ...activationAccess,
      destructionAccess,
      keyRecoveryAccess,
      recoveryAccess,
    ],
    watches: [
      {
        resource: keyApprovalType,
        map: (approval) => {
          const ref = (approval as KeyCeremonyApprovalObject).spec.ceremonyRef.name;
          return [`${approval.metadata.namespace ?? ''}/${ref}`];
        },
      },
    ],
    reconcile: async (ceremony, context) => {
      const phase = ceremony.status?.phase;
      if (phase !== undefined && TERMINAL.has(phase)) return {};
      const run = new CeremonyRun(ceremony, context);
      try {
        return await reconcileCeremony(run, deps);
      } catch (error) {
        const finding = describeFailure(error);
        if (!finding) throw error;
        await fail(run, finding, deps);
        return {};
      }
    },
  };
}

async function reconcileCeremony(run: CeremonyRun, deps: KeyCeremonyDeps): Promise<ReconcileResult> {
  const { ceremony, status } = run;
  if (!CARRIED_OUT.has(ceremony.spec.type)) {
    run.condition(
      ConditionType.Ready,
      'False',
      'NotImplemented',
      `${ceremony.spec.type} ceremonies are not carried out by this version of Keyward; nothing was done`,
    );
    await run.save();
    return {};
  }
  const deadline =
    Date.parse(ceremony.metadata.creationTimestamp ?? '') + parseDuration(ceremony.spec.deadline);
  const keyBackend = deps.keyBackends.get('', ceremony.spec.backendRef.name);

  // An activation and a destruction both open the offline token with a quorum of shares; a recovery rebuilds a
  // version's key-encryption key from them.
  // A destruction of an online key (its KeyBackend holds the PIN) needs the approvals alone.
  const recovering = ceremony.spec.type === 'KeyRecovery';
  const online =
    ceremony.spec.type === 'KeyDestruction' &&
    keyBackend !== undefined &&
    keyBackend.spec.pkcs11?.activation !== 'Ceremony';
  const withShares =
    ceremony.spec.type === 'KeyActivation' ||
    (ceremony.spec.type === 'KeyDestruction' && !online) ||
    recovering;
  if (status.challenge === undefined) {
    const problem = recovering
      ? await findingOf(() => resolveRecoveryTarget(run, deps))
      : online
        ? await findingOf(() => resolveOnlineTarget(run, deps.connections))
        : withShares
          ? await targetProblem(run, deps.keyBackends)
          : specProblem(ceremony, keyBackend);
    if (problem) {
      await fail(run, problem, deps);
      return {};
    }
    if (withShares) ensureRecipient(run); // published with the Preparation step
    await prepare(run);
  } else {
    run.transcript = await Transcript.open(run.context.client, ceremony, status.challenge);
  }

  if (status.phase === 'Running') {
    // Found Running: the process that held the activation secret is gone (a restart in the middle of the HSM work).
    if ((status.steps ?? []).some((s) => s.name !== 'Preparation' && s.state !== 'Pending')) {
      await fail(
        run,
        {
          reason: 'Interrupted',
          message: withShares
            ? `the operator stopped while the ceremony was running (${describeBegun(status)}); the activation secret existed only in its memory, so the ceremony cannot finish. Each custodian still holds their share; run a new ceremony`
            : `the operator stopped while the ceremony was running (${describeBegun(status)}); the activation secret existed only in its memory, so the ceremony cannot finish. The encrypted shares in status open the token; run a new ceremony on a fresh token`,
        },
        deps,
      );
      return {};
    }
    status.phase = 'AwaitingQuorum';
  }

  if (run.now > deadline && status.phase !== 'Completed') {
    await expire(run, deps);
    return {};
  }

  if (status.phase === 'AwaitingQuorum') {
    if (withShares) ensureRecipient(run); // fails the ceremony at once if a restart lost the recipient key
    const counted = await countCustodians(run, deps);
    if (!counted) return { requeueAfter: Math.max(deadline - run.now, 1_000) };
    if (!keyBackend)
      throw new CeremonyRefusal(
        'BackendNotFound',
        `KeyBackend ${ceremony.spec.backendRef.name} does not exist`,
      );
    if (withShares) {
      const recovery = recovering ? await resolveRecoveryTarget(run, deps) : undefined;
      const target = recovering ? undefined : await resolveRootTarget(run, deps.keyBackends);
      const check = recovery?.check ?? (target ? activationCheck(target) : undefined);
      if (!check) throw new Error('a ceremony with shares has a target');
      const rebuilt = await reconstructSecret(run, counted, check);
      const { secret } = rebuilt;
      if (!secret) {
        await refuseShares(run, rebuilt.problem, rebuilt.custodians);
        return { requeueAfter: Math.max(deadline - run.now, 1_000) };
      }
      try {
        await run.step(
          'Share Reconstruction',
          'Done',
          { custodians: rebuilt.custodians, authenticatorVerified: true },
          `the shares of ${rebuilt.custodians.join(', ')} rebuild ${check.what}, checked against its authenticator before ${recovery ? 'the backend is touched' : 'any login'}`,
        );
        status.phase = 'Running';
        await run.save();
        if (recovery) await runRecovery(run, recovery, secret);
        else if (!target) throw new Error('a ceremony with shares has a target');
        else if (ceremony.spec.type === 'KeyActivation') await runActivation(run, target, secret);
        else await runDestruction(run, target, secret);
      } finally {
        secret.fill(0);
      }
    } else if (online) {
      const target = await resolveOnlineTarget(run, deps.connections);
      status.phase = 'Running';
      await run.save();
      await runOnlineDestruction(run, target);
    } else {
      status.phase = 'Running';
      await run.save();
      await runRootGeneration(run, keyBackend, deps);
    }
    await run.transcript?.seal();
    status.phase = 'AwaitingWitnesses';
    run.condition(
      ConditionType.Witnessed,
      'False',
      'AwaitingWitnesses',
      `the transcript is sealed; each witness signs its head ${run.transcript?.head ?? ''}`,
    );
    await run.save();
  }

  if (status.phase === 'AwaitingWitnesses') {
    const witnessed = await countWitnesses(run, deps);
    if (!witnessed) return { requeueAfter: Math.max(deadline - run.now, 1_000) };
    status.phase = 'Completed';
    status.completedTime = formatTime(run.now);
    run.condition(
      ConditionType.Ready,
      'True',
      'Completed',
      'the ceremony completed and every witness signed the transcript',
    );
    await run.save();
    deps.countResult('Completed');
    run.context.recorder.record(ceremony, {
      type: 'Normal',
      reason: 'Completed',
      action: 'Complete',
      note: 'ceremony completed',
    });
  }
  return {};
}

/**
 * Records new approvals and refusals in the transcript and the quorum in status; once it is reached, the approvals
 * that count, by custodian.
 */
async function countCustodians(
  run: CeremonyRun,
  deps: KeyCeremonyDeps,
): Promise<ReadonlyMap<string, KeyCeremonyApprovalObject> | undefined> {
  const { ceremony, status } = run;
  const view = ceremonyView({ ...ceremony, status }, deps);
  const result = tally(approvalsOf(deps, ceremony), 'Custodian', view);
  const threshold = ceremony.spec.quorum.threshold;
  const approvedBy = result.approvedBy;
  for (const [signer, approval] of result.counted) {
    const name = approval.metadata.name ?? '';
    if (run.transcript?.has((e) => e.detail.approval === name)) continue;
    await run.record('Dual Control', signer, {
      event: 'approval verified',
      approval: name,
      signedDigest: approval.spec.signedDigest,
    });
  }
  await recordRefusals(run, result.refused);
  status.approvals = { threshold, received: approvedBy.length, approvedBy };
  const reached = approvedBy.length >= threshold;
  const refusals = [...result.refused.values()].map((f) => f.message);
  run.condition(
    ConditionType.QuorumReached,
    reached ? 'True' : 'False',
    reached ? 'QuorumReached' : refusals.length > 0 ? 'ApprovalsRefused' : 'AwaitingApprovals',
    [
      `${approvedBy.length} of ${threshold} custodians have approved${approvedBy.length > 0 ? ` (${approvedBy.join(', ')})` : ''}`,
      ...refusals,
    ].join('; '),
  );
  if (!reached) {
    await run.save();
    return undefined;
  }
  // Reached: the caller saves with what comes next (Running, or why the shares do not rebuild the secret), so that
  // a quorum whose shares do not match does not flip the condition on every reconcile.
  return result.counted;
}

/** The quorum approved but its shares do not (yet) rebuild the activation data: said, recorded once, waited on. */
async function refuseShares(
  run: CeremonyRun,
  problem: Finding | undefined,
  custodians: readonly string[],
): Promise<void> {
  const reason = problem?.reason ?? 'AwaitingShares';
  const message = problem?.message ?? 'waiting for shares';
  const key = `${reason}:${custodians.join(',')}`;
  if (!run.transcript?.has((e) => e.detail.sharesRefused === key)) {
    await run.record('Share Reconstruction', 'operator', {
      event: 'shares do not rebuild the activation data',
      sharesRefused: key,
      reason,
      message,
    });
  }
  run.condition(ConditionType.QuorumReached, 'False', reason, message);
  await run.save();
}

async function recordRefusals(run: CeremonyRun, refused: ReadonlyMap<string, Finding>): Promise<void> {
  if (run.transcript?.sealed) return;
  for (const [name, finding] of refused) {
    if (run.transcript?.has((e) => e.detail.approval === name)) continue;
    await run.record('Dual Control', 'operator', {
      event: 'approval refused',
      approval: name,
      reason: finding.reason,
      message: finding.message,
    });
  }
}

async function countWitnesses(run: CeremonyRun, deps: KeyCeremonyDeps): Promise<boolean> {
  const { ceremony, status } = run;
  const result = tally(approvalsOf(deps, ceremony), 'Witness', ceremonyView({ ...ceremony, status }, deps));
  const missing = ceremony.spec.witnesses.map((w) => w.name).filter((name) => !result.counted.has(name));
  const refusals = [...result.refused.values()].map((f) => f.message);
  run.condition(
    ConditionType.Witnessed,
    missing.length === 0 ? 'True' : 'False',
    missing.length === 0 ? 'Witnessed' : 'AwaitingWitnesses',
    [
      missing.length === 0
        ? `every witness signed the transcript head ${status.transcript?.headHash ?? ''}`
        : `waiting for ${missing.join(', ')} to sign the transcript head ${status.transcript?.headHash ?? ''}`,
      ...refusals,
    ].join('; '),
  );
  await run.save();
  return missing.length === 0;
}

async function expire(run: CeremonyRun, deps: KeyCeremonyDeps): Promise<void> {
  const { status } = run;
  const begun = describeBegun(status);
  if (run.transcript && !run.transcript.sealed) {
    await run.record('Secure Storage', 'operator', { event: 'ceremony expired', begun });
  }
  dropRecipient(run.ceremony.metadata.uid ?? '');
  status.phase = 'Expired';
  status.completedTime = formatTime(run.now);
  run.condition(
    ConditionType.Ready,
    'False',
    'Expired',
    `the deadline (${run.ceremony.spec.deadline} after creation) passed before the ceremony completed; ${status.certificate ? 'the key and certificate it made stay, unwitnessed' : 'no key was generated'}`,
  );
  await run.save();
  deps.countResult('Expired');
}

/** Ends the ceremony as Failed, with the reason in a condition and (while it can be written) the transcript. */
async function fail(run: CeremonyRun, finding: Finding, deps: KeyCeremonyDeps): Promise<void> {
  const { status } = run;
  const running = status.steps?.find((s) => s.state === 'Running');
  if (running) status.steps = withStep(status, running.name, 'Failed', run.now);
  if (run.transcript && !run.transcript.sealed) {
    await run.record(running?.name ?? 'Preparation', 'operator', {
      event: 'ceremony failed',
      reason: finding.reason,
      message: finding.message,
    });
  }
  dropRecipient(run.ceremony.metadata.uid ?? '');
  status.phase = 'Failed';
  status.completedTime = formatTime(run.now);
  run.condition(ConditionType.Ready, 'False', finding.reason, finding.message);
  await run.save();
  deps.countResult('Failed');
  run.context.recorder.record(run.ceremony, {
    type: 'Warning',
    reason: finding.reason,
    action: 'Fail',
    note: finding.message,
  });
}

/** The refusal `check` ends with, as a finding; undefined when it passes. */
async function findingOf(check: () => Promise<unknown>): Promise<Finding | undefined> {
  try {
    await check();
    return undefined;
  } catch (error) {
    if (error instanceof CeremonyRefusal) return { reason: error.reason, message: error.message };
    throw error;
  }
}

/** A failure the ceremony ends with, or undefined for one that retrying may fix (or a bug). */
function describeFailure(error: unknown): Finding | undefined {
  if (error instanceof CeremonyRefusal) return { reason: error.reason, message: error.message };
  if (error instanceof TranscriptConflictError)
    return { reason: 'TranscriptConflict', message: error.message };
  if (isBackendError(error)) return { reason: error.code, message: error.message };
  if (error instanceof Error && error.name === 'CertificateError')
    return { reason: 'CertificateRefused', message: error.message };
  return undefined;
}
