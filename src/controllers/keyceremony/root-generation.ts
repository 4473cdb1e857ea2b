// Steps 2 to 7 of a root key ceremony, run in one go once the quorum is reached, because the activation secret
// exists only in this process's memory, only for this long:
//   HSM Initialization -> Key Share Distribution -> Root Key Generation -> Root Certificate Signing ->
//   Verification & Audit -> Secure Storage.
// The encrypted shares are written to status before the token is touched, so a crash at any point never leaves a
// token that nobody can open. A ceremony found Running after a restart cannot go on (the secret is gone with the
// process): it fails cleanly, saying what was begun (see resumeAfterRestart).
import { createHash } from 'node:crypto';
import type { KeyBackendObject } from '../../api/v1alpha1/keybackend.ts';
import type { KeyCeremonyStatus } from '../../api/v1alpha1/keyceremony.ts';
import { ManagedKey } from '../../api/v1alpha1/managedkey.ts';
import type { KeyVersion, ManagedKeyObject, ManagedKeyStatus } from '../../api/v1alpha1/managedkey.ts';
import type { KeyBackend } from '../../backends/backend.ts';
import { initializeToken } from '../../backends/pkcs11/token-init.ts';
import { openBackend } from '../../backends/registry.ts';
import {
  activationAuthenticator,
  newActivationSecret,
  tokenPins,
  wipePins,
} from '../../ceremony/activation.ts';
import { signRoot } from '../../ceremony/certificate.ts';
import { encryptToPem } from '../../ceremony/cms.ts';
import { participantKey } from '../../ceremony/participants.ts';
import { splitSecret } from '../../ceremony/shares.ts';
import { failpoint } from '../../failpoints.ts';
import type { ApiAccess } from '../../kube/access.ts';
import type { KubeClient } from '../../kube/client.ts';
import { isAlreadyExists, isNotFound } from '../../kube/errors.ts';
import { builtinResources, resourceTypeOf } from '../../kube/resource.ts';
import { formatTime } from '../../runtime/clock.ts';
import { parseDuration } from '../../runtime/duration.ts';
import {
  distributePublicKeys,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  PublicKeyCache,
} from '../managedkey/distribution.ts';
import type { ConfigMap } from '../managedkey/distribution.ts';
import type { Informer } from '../../runtime/informer.ts';
import { keyIdentity } from '../managedkey/versions.ts';
import type { CeremonyRun } from './context.ts';
import { CEREMONY_LABEL } from './transcript-store.ts';

export const managedKeyType = resourceTypeOf(ManagedKey);

/** The root's ManagedKey (looked for, created, its status written) and its certificate ConfigMap (created). */
export const rootGenerationAccess: readonly ApiAccess[] = [
  { resource: managedKeyType, verbs: ['get', 'create'] },
  { resource: managedKeyType, subresource: 'status', verbs: ['patch'] },
  { resource: builtinResources.configMaps, verbs: ['create'] },
];
export const CEREMONY_UID_ANNOTATION = 'keyward.io/ceremony-uid';
export const AUTHENTICATOR_ANNOTATION = 'keyward.io/activation-authenticator';

/** A step that cannot be done as asked; the ceremony fails with it. */
export class CeremonyRefusal extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'CeremonyRefusal';
    this.reason = reason;
  }
}

/** Fails the ceremony's step with a reason and a message for a person. */
export const refuse = (reason: string, message: string): never => {
  throw new CeremonyRefusal(reason, message);
};

/** The ManagedKey a ceremony's target names, in the ceremony's namespace; refused with TargetNotFound if absent. */
export async function targetManagedKey(run: CeremonyRun): Promise<ManagedKeyObject> {
  const namespace = run.ceremony.metadata.namespace ?? '';
  const name = run.ceremony.spec.target?.managedKeyRef.name ?? '';
  try {
    return await run.context.client.get<ManagedKeyObject>(managedKeyType, name, namespace);
  } catch (error) {
    if (isNotFound(error)) refuse('TargetNotFound', `ManagedKey ${namespace}/${name} does not exist`);
    throw error;
  }
}

export interface GenerationDeps {
  readonly configMaps: Informer<ConfigMap>;
}

function sha256Hex(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The DER inside a PEM, for digests that openssl can recompute (`openssl cms -in x -inform PEM -outform DER`). */
function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

export async function runRootGeneration(
  run: CeremonyRun,
  keyBackend: KeyBackendObject,
  deps: GenerationDeps,
) {
  const { ceremony, status } = run;
  const { spec } = ceremony;
  const uid = ceremony.metadata.uid ?? '';
  const pkcs11 = keyBackend.spec.pkcs11;
  const key = spec.key;
  const certificate = spec.certificate;
  if (!pkcs11?.token.label || !key || !certificate) throw new Error('runRootGeneration needs a checked spec');
  const label = pkcs11.token.label;

  const secret = newActivationSecret();
  const pins = tokenPins(secret, uid);
  let backend: KeyBackend | undefined;
  try {
    // The shares first, in memory; published with the step that touches the token.
    const custodians = spec.quorum.custodians.map(participantKey);
    const shares = await splitSecret(secret, custodians.length, spec.quorum.threshold);
    try {
      status.shares = custodians.map((custodian, i) => ({
        custodian: custodian.name,
        encryptedShare: encryptToPem(custodian, shares[i] ?? Buffer.alloc(0)),
        fingerprint: custodian.fingerprint,
      }));
    } finally {
      for (const share of shares) share.fill(0);
    }
    const authenticator = activationAuthenticator(secret, uid);
    secret.fill(0); // from here on only the PINs are needed

    await run.step(
      'HSM Initialization',
      'Running',
      { module: pkcs11.modulePath, label },
      `initialising a token labelled "${label}" in an uninitialised slot`,
    );
    const token = await initializeToken({
      modulePath: pkcs11.modulePath,
      label,
      soPin: pins.so,
      userPin: pins.user,
    });
    failpoint('ceremony-after-token-init');
    await run.step(
      'HSM Initialization',
      'Done',
      { label, serial: token.serial, slot: token.slotId, model: `${token.manufacturer} ${token.model}` },
      `token "${label}" (serial ${token.serial}) initialised; its SO and user PINs are derived from the activation secret and stored nowhere`,
    );

    await run.step('Key Share Distribution', 'Running', {}, 'encrypting one share to each custodian');
    for (const share of status.shares) {
      await run.record('Key Share Distribution', share.custodian, {
        event: 'share encrypted to custodian',
        fingerprint: share.fingerprint,
        cms: sha256Hex(pemBody(share.encryptedShare)),
      });
    }
    await run.step(
      'Key Share Distribution',
      'Done',
      { authenticator, threshold: spec.quorum.threshold, shares: status.shares.length },
      `${status.shares.length} shares published, any ${spec.quorum.threshold} of which activate the token`,
    );

    const managedKey = await ensureManagedKey(run.context.client, run, authenticator);
    const identity = keyIdentity(managedKey, 1);
    await run.step(
      'Root Key Generation',
      'Running',
      { managedKey: key.name },
      `generating ${key.algorithm} in the token`,
    );
    const credential = Buffer.from(pins.user);
    try {
      backend = await openBackend(keyBackend.spec, new Map([['pin', credential]]));
    } finally {
      credential.fill(0); // the backend keeps its own copy, which close() zeroes
    }
    const created = await backend.create(identity, { algorithm: key.algorithm, usages: ['sign', 'verify'] });
    const publicKey = await backend.publicKey(identity);
    failpoint('ceremony-after-key-generation');
    const version: KeyVersion = {
      version: 1,
      state: 'Active',
      keyRef: created.version.keyRef,
      backendVersion: created.version.versionId,
      target: created.version.target,
      fingerprint: publicKey.fingerprint,
      createdTime: formatTime(run.now),
    };
    await recordManagedKey(run, managedKey, version);
    await distributePublicKeys(managedKey, [version], {
      backend,
      client: run.context.client,
      configMaps: deps.configMaps,
      publicKeys: new PublicKeyCache(),
    });
    await run.step(
      'Root Key Generation',
      'Done',
      { keyRef: version.keyRef ?? '', fingerprint: publicKey.fingerprint, outcome: created.outcome },
      `${key.algorithm} key generated in the token, not extractable, fingerprint ${publicKey.fingerprint}`,
    );

    await run.step(
      'Root Certificate Signing',
      'Running',
      { subject: certificate.subject },
      'building and signing',
    );
    const notBefore = new Date(Math.floor(run.now / 1000) * 1000);
    const notAfter = new Date(notBefore.getTime() + parseDuration(certificate.validity) - 1000);
    const signer = backend;
    const root = await signRoot(
      { algorithm: key.algorithm, subject: certificate.subject, spki: publicKey.spki, notBefore, notAfter },
      (input) => signer.sign(identity, input, { ecdsaFormat: 'der' }),
    );
    const fingerprint = `SHA256:${createHash('sha256').update(root.der).digest('base64').replace(/=+$/, '')}`;
    const configMapName = await publishCertificate(run, { 'ca.crt': root.pem, fingerprint });
    status.certificate = {
      configMapName,
      fingerprint,
      notBefore: formatTime(notBefore.getTime()),
      notAfter: formatTime(notAfter.getTime()),
    };
    failpoint('ceremony-after-certificate');
    await run.step(
      'Root Certificate Signing',
      'Done',
      { serial: root.serial, configMap: configMapName },
      `self-signed in the HSM, serial ${root.serial}, valid until ${formatTime(notAfter.getTime())}`,
    );

    await run.step(
      'Verification & Audit',
      'Done',
      {
        certificate: sha256Hex(root.der),
        certificateFingerprint: fingerprint,
        publicKey: publicKey.fingerprint,
        // signRoot verified the HSM's signature with this public key before returning.
        signatureVerified: true,
      },
      `certificate ${fingerprint} verified against the key in the token`,
    );
  } finally {
    await backend?.close();
    secret.fill(0);
    wipePins(pins);
  }
  await run.step(
    'Secure Storage',
    'Done',
    { sessionsClosed: true, loggedOut: true, activationDataInMemory: false },
    'sessions closed, token logged out, activation secret and PINs zeroed in memory',
  );
}

/** The ManagedKey that records the root key: created by this ceremony, or refused if someone else's exists. */
async function ensureManagedKey(
  client: KubeClient,
  run: CeremonyRun,
  authenticator: string,
): Promise<ManagedKeyObject> {
  const { ceremony } = run;
  const key = ceremony.spec.key;
  const namespace = ceremony.metadata.namespace ?? '';
  if (!key) throw new Error('no key in the spec');
  const manifest = {
    apiVersion: 'keyward.io/v1alpha1',
    kind: 'ManagedKey',
    metadata: {
      name: key.name,
      namespace,
      labels: { [CEREMONY_LABEL]: ceremony.metadata.name ?? '' },
      annotations: {
        [CEREMONY_UID_ANNOTATION]: ceremony.metadata.uid ?? '',
        [AUTHENTICATOR_ANNOTATION]: authenticator,
      },
    },
    spec: {
      backendRef: ceremony.spec.backendRef,
      algorithm: key.algorithm,
      usages: ['sign', 'verify'],
      distribution: { publicKey: { configMapName: `${key.name}-pub` } },
    },
  } as unknown as ManagedKeyObject;
  try {
    return await client.create<ManagedKeyObject>(managedKeyType, manifest);
  } catch (error) {
    if (!isAlreadyExists(error)) throw error;
  }
  const existing = await client.get<ManagedKeyObject>(managedKeyType, key.name, namespace);
  if (existing.metadata.annotations?.[CEREMONY_UID_ANNOTATION] !== ceremony.metadata.uid) {
    throw new CeremonyRefusal(
      'KeyExists',
      `ManagedKey ${namespace}/${key.name} already exists and was not made by this ceremony; a ceremony never overwrites a key`,
    );
  }
  return existing;
}

/** The ManagedKey's status says what was generated, and that the key is offline. */
async function recordManagedKey(
  run: CeremonyRun,
  managedKey: ManagedKeyObject,
  version: KeyVersion,
): Promise<void> {
  const now = formatTime(run.now);
  const ceremonyName = `${run.ceremony.metadata.namespace ?? ''}/${run.ceremony.metadata.name ?? ''}`;
  const status: ManagedKeyStatus = {
    phase: 'Active',
    currentVersion: 1,
    keyRef: version.keyRef,
    publicKeyFingerprint: version.fingerprint,
    versions: [version],
    conditions: [
      {
        type: 'Ready',
        status: 'False',
        reason: 'Offline',
        message: `root key generated by KeyCeremony ${ceremonyName}; offline: the operator cannot use it until a KeyActivation ceremony brings a quorum of shares`,
        lastTransitionTime: now,
      },
    ],
  };
  await run.context.client.patch(
    managedKeyType,
    managedKey.metadata.name ?? '',
    managedKey.metadata.namespace,
    'merge',
    { status },
    { subresource: 'status' },
  );
}

/** The certificate ConfigMap (`ca.crt`, and for an intermediate `issuer.crt`); an existing one is never overwritten. */
export async function publishCertificate(run: CeremonyRun, data: Record<string, string>): Promise<string> {
  const name = `${run.ceremony.metadata.name ?? ''}-certificate`;
  const namespace = run.ceremony.metadata.namespace ?? '';
  try {
    await run.context.client.create<ConfigMap>(builtinResources.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name,
        namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CEREMONY_LABEL]: run.ceremony.metadata.name ?? '' },
        annotations: { [CEREMONY_UID_ANNOTATION]: run.ceremony.metadata.uid ?? '' },
      },
      immutable: true,
      data,
    } as ConfigMap);
  } catch (error) {
    if (isAlreadyExists(error)) {
      throw new CeremonyRefusal(
        'CertificateExists',
        `ConfigMap ${namespace}/${name} already exists; a ceremony never overwrites a certificate`,
      );
    }
    throw error;
  }
  return name;
}

/** What a ceremony found Running after a restart had begun, for the failure it ends with. */
export function describeBegun(status: KeyCeremonyStatus): string {
  const begun = (status.steps ?? [])
    .filter((s) => s.state !== 'Pending')
    .map((s) => `${s.name} (${s.state})`);
  return begun.join(', ');
}
