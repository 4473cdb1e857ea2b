// Sign and Verify requests. Signatures always go as a digest (MessageType DIGEST), hashed here when given a message:
// KMS takes at most 4 KiB of raw message, and one path for both inputs is one path to test. HMAC keys MAC the message
// itself (GenerateMac has no digest form).

import { createHash } from 'node:crypto';
import type { Algorithm } from '../algorithms.ts';
import { signatureDigest } from '../algorithms.ts';
import type { SignInput } from '../backend.ts';
import { UnsupportedError } from '../errors.ts';

/** GenerateMac and VerifyMac take at most this many bytes. */
export const MAX_MAC_MESSAGE = 4096;

/** The digest KMS signs: the input's digest, or the message hashed with the key's digest. */
export function digestToSign(algorithm: Algorithm, input: SignInput): Buffer {
  if ('digest' in input) return input.digest;
  const hash = signatureDigest(algorithm);
  if (hash === undefined) throw new UnsupportedError(`${algorithm} keys do not sign digests`);
  return createHash(hash).update(input.message).digest();
}

/** The message an HMAC key MACs. */
export function macMessage(input: SignInput): Buffer {
  if ('digest' in input) {
    throw new UnsupportedError(
      'KMS HMAC keys MAC messages, not digests (HMAC of a digest is not HMAC of the message)',
    );
  }
  if (input.message.length === 0 || input.message.length > MAX_MAC_MESSAGE) {
    throw new UnsupportedError(
      `KMS MACs messages of 1 to ${MAX_MAC_MESSAGE} bytes, not ${input.message.length}`,
    );
  }
  return input.message;
}
