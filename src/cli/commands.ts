// The commands of `kubectl keyward`. Each takes parsed options and writes what a person reads to `out`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyCeremonyObject } from '../api/v1alpha1/keyceremony.ts';
import type { KeyCeremonyApprovalObject } from '../api/v1alpha1/keyceremonyapproval.ts';
import type { ManagedKeyObject } from '../api/v1alpha1/managedkey.ts';
import { auditCeremony } from '../ceremony/audit.ts';
import { parseTranscript } from '../ceremony/transcript.ts';
import { keyApprovalType, keyCeremonyType } from '../controllers/keyceremony/context.ts';
import { managedKeyType } from '../controllers/keyceremony/root-generation.ts';
import { TRANSCRIPT_KEY, transcriptName } from '../controllers/keyceremony/transcript-store.ts';
import type { ConfigMap } from '../controllers/managedkey/distribution.ts';
import { ROTATE_ANNOTATION } from '../controllers/managedkey/rotation.ts';
import type { KubeClient } from '../kube/client.ts';
import { builtinResources } from '../kube/resource.ts';
import {
  generatePersonalKey,
  KEY_TYPES,
  readPersonalKey,
  signText,
  writePersonalKey,
} from './personal-key.ts';
import type { KeyType } from './personal-key.ts';

export interface Io {
  out(line: string): void;
  /** The API client, made only for commands that talk to the cluster. */
  client(): KubeClient;
  namespace: string;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

function required(value: string | undefined, what: string): string {
  if (value === undefined || value === '') throw new UsageError(`${what} is required`);
  return value;
}

export function keygen(options: { type?: string; out?: string }, io: Io): void {
  const type = (options.type ?? 'ec-p256') as KeyType;
  if (!KEY_TYPES.includes(type)) throw new UsageError(`--type must be one of ${KEY_TYPES.join(', ')}`);
  const publicKey = writePersonalKey(required(options.out, '--out'), generatePersonalKey(type));
  io.out(publicKey.trimEnd());
}

const getCeremony = (io: Io, name: string) =>
  io.client().get<KeyCeremonyObject>(keyCeremonyType, name, io.namespace);

/**
 * Re-encrypts a share file to the ceremony's recipient certificate with the very command the docs give
 * (`openssl cms -encrypt -binary -aes256 -outform PEM`), for the approval of a KeyActivation or KeyDestruction.
 */
function reencryptShare(ceremony: KeyCeremonyObject, shareFile: string): string {
  const certificate = ceremony.status?.recipientCertificate;
  if (!certificate)
    throw new UsageError(
      `ceremony ${ceremony.metadata.name ?? ''} takes no share (it has no recipient certificate)`,
    );
  const dir = mkdtempSync(join(tmpdir(), 'kubectl-keyward-'));
  try {
    writeFileSync(join(dir, 'recipient.pem'), certificate);
    return execFileSync(
      'openssl',
      [
        'cms',
        '-encrypt',
        '-binary',
        '-aes256',
        '-in',
        shareFile,
        '-outform',
        'PEM',
        join(dir, 'recipient.pem'),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Signs the ceremony's challenge (custodian) or sealed transcript head (witness), and submits the approval; with
 * `--share`, the custodian's share goes with it, re-encrypted to the ceremony.
 */
export async function approve(
  ceremonyName: string,
  options: { signer?: string; key?: string; role?: string; name?: string; share?: string },
  io: Io,
): Promise<void> {
  const role = options.role ?? 'Custodian';
  if (role !== 'Custodian' && role !== 'Witness') throw new UsageError('--role is Custodian or Witness');
  const signer = required(options.signer, '--signer');
  const key = readPersonalKey(required(options.key, '--key'));
  const ceremony = await getCeremony(io, ceremonyName);
  const digest = role === 'Custodian' ? ceremony.status?.challenge : sealedHead(ceremony);
  if (!digest) {
    throw new UsageError(
      role === 'Custodian'
        ? `ceremony ${ceremonyName} has no challenge yet`
        : `ceremony ${ceremonyName} has not sealed its transcript yet (phase ${ceremony.status?.phase ?? 'none'})`,
    );
  }
  const name = options.name ?? `${ceremonyName}-${signer}-${role.toLowerCase()}`;
  await io.client().create<KeyCeremonyApprovalObject>(keyApprovalType, {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'KeyCeremonyApproval',
    metadata: { name, namespace: io.namespace },
    spec: {
      ceremonyRef: { name: ceremonyName },
      role,
      signer,
      signedDigest: digest,
      signature: signText(key, digest),
      ...(options.share === undefined ? {} : { share: reencryptShare(ceremony, options.share) }),
    },
  });
  io.out(`keyceremonyapproval/${name} created: ${signer} signed ${digest}`);
}

function sealedHead(ceremony: KeyCeremonyObject): string | undefined {
  const phase = ceremony.status?.phase;
  return phase === 'AwaitingWitnesses' || phase === 'Completed'
    ? ceremony.status?.transcript?.headHash
    : undefined;
}

/** Decrypts the custodian's share with `openssl cms -decrypt`, the same command the docs give. */
export async function shareDecrypt(
  ceremonyName: string,
  options: { custodian?: string; key?: string; out?: string },
  io: Io,
): Promise<void> {
  const custodian = required(options.custodian, '--custodian');
  const ceremony = await getCeremony(io, ceremonyName);
  const share = ceremony.status?.shares?.find((s) => s.custodian === custodian);
  if (!share) throw new UsageError(`ceremony ${ceremonyName} has no share for ${custodian}`);
  const plaintext = execFileSync(
    'openssl',
    ['cms', '-decrypt', '-inform', 'PEM', '-inkey', required(options.key, '--key')],
    { input: share.encryptedShare, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  try {
    writeFileSync(required(options.out, '--out'), plaintext, { mode: 0o600, flag: 'wx' });
  } finally {
    plaintext.fill(0);
  }
  io.out(`share of ${custodian} written to ${options.out ?? ''} (keep it offline)`);
}

export async function ceremonyStatus(ceremonyName: string, io: Io): Promise<void> {
  const ceremony = await getCeremony(io, ceremonyName);
  const status = ceremony.status ?? {};
  io.out(`${ceremonyName}: ${ceremony.spec.type}, phase ${status.phase ?? '(none)'}`);
  io.out(`challenge: ${status.challenge ?? '(none)'}`);
  const approvals = status.approvals;
  if (approvals) {
    io.out(
      `approvals: ${approvals.received} of ${approvals.threshold} (${approvals.approvedBy.join(', ') || 'none'})`,
    );
  }
  for (const step of status.steps ?? []) {
    io.out(
      `  ${step.state.padEnd(8)} ${step.name}${step.transcriptSeq ? ` (transcript #${step.transcriptSeq})` : ''}`,
    );
  }
  if (status.transcript)
    io.out(`transcript: ${status.transcript.entries} entries, head ${status.transcript.headHash}`);
  if (status.certificate)
    io.out(`certificate: ${status.certificate.fingerprint} in ConfigMap ${status.certificate.configMapName}`);
  for (const condition of status.conditions ?? []) {
    io.out(`${condition.type}=${condition.status} ${condition.reason}: ${condition.message}`);
  }
}

/** Recomputes the chain and checks every witness signature; throws (exit 1) if anything is wrong. */
export async function transcriptVerify(
  ceremonyName: string,
  options: { file?: string },
  io: Io,
): Promise<void> {
  const client = io.client();
  const ceremony = await getCeremony(io, ceremonyName);
  const text =
    options.file === undefined
      ? ((await client.get<ConfigMap>(builtinResources.configMaps, transcriptName(ceremony), io.namespace))
          .data?.[TRANSCRIPT_KEY] ?? '')
      : readFileSync(options.file, 'utf8');
  const entries = parseTranscript(text);
  const approvals = (
    await client.list<KeyCeremonyApprovalObject>(keyApprovalType, { namespace: io.namespace })
  ).items.filter((a) => a.spec.ceremonyRef.name === ceremonyName);
  const problems = auditCeremony(ceremony, entries, approvals);
  if (problems.length > 0) throw new VerificationError(problems);
  io.out(
    `transcript of ${ceremonyName} verifies: ${entries.length} entries, head ${entries.at(-1)?.hash ?? ''}, signed by ${ceremony.spec.witnesses.map((w) => w.name).join(', ')}`,
  );
}

export class VerificationError extends Error {
  override name = 'VerificationError';
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`verification failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export async function rotate(keyName: string, io: Io): Promise<void> {
  const value = new Date().toISOString();
  await io.client().patch(managedKeyType, keyName, io.namespace, 'merge', {
    metadata: { annotations: { [ROTATE_ANNOTATION]: value } },
  });
  io.out(`managedkey/${keyName}: rotation requested (${ROTATE_ANNOTATION}=${value})`);
}

export async function keyStatus(keyName: string, io: Io): Promise<void> {
  const key = await io.client().get<ManagedKeyObject>(managedKeyType, keyName, io.namespace);
  const status = key.status ?? {};
  io.out(
    `${keyName}: ${key.spec.algorithm}, phase ${status.phase ?? '(none)'}, version ${status.currentVersion ?? '-'}`,
  );
  if (status.publicKeyFingerprint) io.out(`fingerprint: ${status.publicKeyFingerprint}`);
  if (status.nextRotationTime) io.out(`next rotation: ${status.nextRotationTime}`);
  for (const version of status.versions ?? [])
    io.out(`  v${version.version} ${version.state} ${version.keyRef ?? ''}`);
  for (const condition of status.conditions ?? []) {
    io.out(`${condition.type}=${condition.status} ${condition.reason}: ${condition.message}`);
  }
}
