// API key format and secrets, as pure functions. A key reads `tm_<env>_<id>_<secret>`: the id finds the
// row, only a SHA-256 digest of the whole key is stored, and digests are compared in constant time.
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function randomToken(length: number): string {
  // Rejection sampling keeps every character equally likely (256 is not a multiple of 62).
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

export interface IssuedKey {
  id: string;
  secret: string;
  digest: Buffer;
}

export function issueKey(environment: string): IssuedKey {
  const id = randomToken(16);
  const secret = `tm_${environment}_${id}_${randomToken(40)}`;
  return { id, secret, digest: digestKey(secret) };
}

export function digestKey(key: string): Buffer {
  // One-shot: no Hash object per request (the guard digests the presented key on every request).
  return hash('sha256', key, 'buffer');
}

/** The id inside a well-formed key, or null. */
export function parseKeyId(key: string): string | null {
  const match = /^tm_[a-z0-9]{1,16}_([A-Za-z0-9]{16})_[A-Za-z0-9]{40}$/.exec(key);
  return match ? match[1]! : null;
}

export function digestsMatch(presented: string, stored: Buffer): boolean {
  const digest = digestKey(presented);
  return digest.length === stored.length && timingSafeEqual(digest, stored);
}

/** The fixed row id of the key given by TOKENMETER_ADMIN_KEY, which may have any format. */
export const BOOTSTRAP_KEY_ID = 'bootstrap-admin';
