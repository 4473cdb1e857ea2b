// Key generation inside the token: the templates, and what a generated key must look like when read back.

import pkcs11js from 'pkcs11js';
import type { KeySpec } from '../backend.ts';
import { PROTECTION_TEMPLATE, generationUseFlags } from './attributes.ts';
import { type KeyObjects, type KeyState, sameUsages } from './key-objects.ts';
import { KEY_PARAMETERS } from './key-types.ts';
import type { ObjectIdentity } from './object-identity.ts';
import type { VendorProfile } from './vendors.ts';

const RSA_PUBLIC_EXPONENT = Buffer.from([0x01, 0x00, 0x01]);

export type GenerationRequest =
  | { readonly kind: 'secret'; readonly mechanism: pkcs11js.Mechanism; readonly template: pkcs11js.Template }
  | {
      readonly kind: 'pair';
      readonly mechanism: pkcs11js.Mechanism;
      readonly publicTemplate: pkcs11js.Template;
      readonly privateTemplate: pkcs11js.Template;
    };

/**
 * The C_GenerateKey(Pair) request for a key version: token objects, private and secret keys sensitive and never
 * extractable (a recoverable secret key: extractable until it is wrapped once and sealed, see recovery.ts), CKA_ID
 * and CKA_LABEL on every object, use flags exactly as the spec's usages.
 */
export function generationRequest(
  spec: KeySpec,
  oid: ObjectIdentity,
  id: Buffer,
  profile: VendorProfile,
): GenerationRequest {
  const parameters = KEY_PARAMETERS[spec.algorithm];
  const mechanism = { mechanism: parameters.generate };
  const protection = protectionTemplate(profile, spec.recoverable === true && parameters.kind === 'secret');
  const naming = (label: string): pkcs11js.Template => [
    { type: pkcs11js.CKA_ID, value: id },
    { type: pkcs11js.CKA_LABEL, value: label },
  ];
  if (parameters.kind === 'secret') {
    return {
      kind: 'secret',
      mechanism,
      template: [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_SECRET_KEY },
        { type: pkcs11js.CKA_KEY_TYPE, value: parameters.keyType },
        { type: pkcs11js.CKA_VALUE_LEN, value: parameters.valueLength },
        ...protection,
        ...naming(oid.label),
        ...generationUseFlags('secret', spec.usages),
      ],
    };
  }
  return {
    kind: 'pair',
    mechanism,
    publicTemplate: [
      { type: pkcs11js.CKA_TOKEN, value: true },
      { type: pkcs11js.CKA_PRIVATE, value: profile.privatePublicKeys },
      ...naming(oid.publicLabel),
      ...(parameters.kind === 'rsa'
        ? [
            { type: pkcs11js.CKA_MODULUS_BITS, value: parameters.modulusBits },
            { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: RSA_PUBLIC_EXPONENT },
          ]
        : [{ type: pkcs11js.CKA_EC_PARAMS, value: parameters.ecParams }]),
      ...generationUseFlags('public', spec.usages),
    ],
    privateTemplate: [...protection, ...naming(oid.label), ...generationUseFlags('private', spec.usages)],
  };
}

/** The protection attributes a new private or secret key (or a restored one) is made with. */
export function protectionTemplate(profile: VendorProfile, extractable: boolean): pkcs11js.Template {
  return [
    ...PROTECTION_TEMPLATE.map((attribute) =>
      attribute.type === pkcs11js.CKA_EXTRACTABLE ? { ...attribute, value: extractable } : attribute,
    ),
    ...(profile.nonCopyable ? [{ type: pkcs11js.CKA_COPYABLE, value: false }] : []),
  ];
}

/** Generates on a worker thread (RSA-4096 takes seconds) and returns the new objects. */
export async function generate(
  pkcs11: pkcs11js.PKCS11,
  session: pkcs11js.Handle,
  request: GenerationRequest,
  oid: ObjectIdentity,
): Promise<KeyObjects> {
  if (request.kind === 'secret') {
    const handle = await pkcs11.C_GenerateKeyAsync(session, request.mechanism, request.template);
    return { primary: { cls: 'secret', handle, label: oid.label }, public: undefined };
  }
  const pair = await pkcs11.C_GenerateKeyPairAsync(
    session,
    request.mechanism,
    request.publicTemplate,
    request.privateTemplate,
  );
  return {
    primary: { cls: 'private', handle: pair.privateKey, label: oid.label },
    public: { cls: 'public', handle: pair.publicKey, label: oid.publicLabel },
  };
}

/** How a freshly generated key, read back, differs from what was asked (empty when it does not). */
export function generationProblems(
  state: KeyState,
  oid: ObjectIdentity,
  id: Buffer,
  spec: KeySpec,
): string[] {
  const problems = [...state.problems];
  if (state.algorithm !== spec.algorithm) problems.push(`it is ${state.algorithm ?? 'unrecognizable'}`);
  if (!state.id.equals(id)) problems.push('CKA_ID differs');
  if (state.label !== oid.label) problems.push('CKA_LABEL differs');
  if (!sameUsages(state.usages, spec.usages)) problems.push(`its usages are [${state.usages.join(', ')}]`);
  return problems;
}
