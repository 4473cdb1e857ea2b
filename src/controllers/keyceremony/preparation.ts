// Step 1, Preparation: the spec is checked for everything that would make the ceremony fail half-way, the
// challenge is computed, and the attendees are logged with the fingerprints of their keys.
import type { KeyBackendObject } from '../../api/v1alpha1/keybackend.ts';
import type { KeyCeremonyObject } from '../../api/v1alpha1/keyceremony.ts';
import { ConditionType } from '../../api/v1alpha1/conditions.ts';
import { checkRootRequest } from '../../ceremony/certificate.ts';
import { ceremonyChallenge } from '../../ceremony/challenge.ts';
import { canReceiveShare, participantKey } from '../../ceremony/participants.ts';
import { formatTime } from '../../runtime/clock.ts';
import type { Finding } from './findings.ts';
import type { CeremonyRun } from './context.ts';
import { initialSteps } from './steps.ts';
import { Transcript } from './transcript-store.ts';

/** PKCS#11 token labels are 32 bytes. */
const MAX_LABEL = 32;

/** Why the ceremony cannot run as specified, or undefined. */
export function specProblem(
  ceremony: KeyCeremonyObject,
  keyBackend: KeyBackendObject | undefined,
): Finding | undefined {
  const { spec } = ceremony;
  const backendName = spec.backendRef.name;
  if (!keyBackend) return { reason: 'BackendNotFound', message: `KeyBackend ${backendName} does not exist` };
  const pkcs11 = keyBackend.spec.pkcs11;
  if (pkcs11?.activation !== 'Ceremony' || pkcs11.token.label === undefined) {
    return {
      reason: 'BackendNotOffline',
      message: `KeyBackend ${backendName} is not an offline root: a root key ceremony initialises a PKCS#11 token of its own, so the KeyBackend needs spec.pkcs11.activation: Ceremony and token.label`,
    };
  }
  if (Buffer.byteLength(pkcs11.token.label) > MAX_LABEL) {
    return {
      reason: 'InvalidSpec',
      message: `token label "${pkcs11.token.label}" is longer than ${MAX_LABEL} bytes`,
    };
  }
  if (!spec.splitKnowledge) {
    return {
      reason: 'InvalidSpec',
      message:
        'a root key ceremony needs splitKnowledge: true; the token PINs are stored nowhere, so they must be split among the custodians',
    };
  }
  if (!spec.key || !spec.certificate) {
    return { reason: 'InvalidSpec', message: 'a RootKeyGeneration ceremony needs key and certificate' };
  }
  try {
    checkRootRequest({ algorithm: spec.key.algorithm, subject: spec.certificate.subject });
    for (const custodian of spec.quorum.custodians) {
      const key = participantKey(custodian);
      if (!canReceiveShare(key)) {
        return {
          reason: 'CustodianCannotReceiveShare',
          message: `custodian ${custodian.name} has an Ed25519 key, which can sign but cannot receive an encrypted share; give ${custodian.name} an EC P-256, EC P-384 or RSA key`,
        };
      }
    }
    for (const witness of spec.witnesses) participantKey(witness);
  } catch (error) {
    return { reason: 'InvalidSpec', message: (error as Error).message };
  }
  return undefined;
}

/** Computes the challenge, opens the transcript and logs the attendees; idempotent after a crash. */
export async function prepare(run: CeremonyRun): Promise<void> {
  const { ceremony, status } = run;
  const { spec } = ceremony;
  const challenge = ceremonyChallenge(ceremony.metadata.uid ?? '', spec);
  run.transcript = await Transcript.open(run.context.client, ceremony, challenge);
  const transcript = run.transcript;
  if (!transcript.has((e) => e.seq === 1)) {
    await run.record('Preparation', 'operator', {
      event: 'ceremony opened',
      ceremony: `${ceremony.metadata.namespace ?? ''}/${ceremony.metadata.name ?? ''}`,
      uid: ceremony.metadata.uid ?? '',
      type: spec.type,
      backend: spec.backendRef.name,
      key: spec.key?.name ?? spec.target?.managedKeyRef.name ?? '',
      algorithm: spec.key?.algorithm ?? '',
      subject: spec.certificate?.subject ?? '',
      validity: spec.certificate?.validity ?? '',
      quorum: `${spec.quorum.threshold} of ${spec.quorum.custodians.length}`,
      challenge,
    });
  }
  const attendees = [
    ...spec.quorum.custodians.map((p) => ({ ...p, role: 'Custodian' })),
    ...spec.witnesses.map((p) => ({ ...p, role: 'Witness' })),
  ];
  for (const attendee of attendees) {
    if (transcript.has((e) => e.step === 'Preparation' && e.actor === attendee.name)) continue;
    await run.record('Preparation', attendee.name, {
      event: 'attendee identified',
      role: attendee.role,
      fingerprint: participantKey(attendee).fingerprint,
    });
  }
  status.challenge = challenge;
  status.startedTime ??= formatTime(run.now);
  status.steps ??= initialSteps(spec.type);
  status.approvals = { threshold: spec.quorum.threshold, received: 0, approvedBy: [] };
  status.phase = 'AwaitingQuorum';
  run.condition(
    ConditionType.QuorumReached,
    'False',
    'AwaitingApprovals',
    `0 of ${spec.quorum.threshold} custodians have approved; each signs ${challenge}`,
  );
  await run.step(
    'Preparation',
    'Done',
    { attendees: attendees.length },
    `${attendees.length} attendees identified; challenge ${challenge}`,
  );
}
