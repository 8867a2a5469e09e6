// How a delivery is signed, as pure functions: HMAC-SHA256 of `<t>.<body>` with the endpoint's secret, sent
// as `tokenmeter-signature: t=<unix seconds>,v1=<hex>` (Stripe's scheme). While a rotated secret is still
// valid, the header carries one `v1=` per valid secret, so a receiver holding either verifies.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'tokenmeter-signature';
export const EVENT_ID_HEADER = 'tokenmeter-event-id';
export const EVENT_TYPE_HEADER = 'tokenmeter-event-type';
export const DELIVERY_ID_HEADER = 'tokenmeter-delivery-id';
export const ATTEMPT_HEADER = 'tokenmeter-delivery-attempt';

const SECRET_PREFIX = 'whsec_';

export function newSigningSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64url')}`;
}

export function signPayload(secret: string, unixSeconds: number, body: string): string {
  return createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
}

/** The header value for a body sent at `unixSeconds`, signed with every secret still valid. */
export function signatureHeader(secrets: readonly string[], unixSeconds: number, body: string): string {
  if (secrets.length === 0) throw new Error('a webhook is signed with at least one secret');
  if (!Number.isSafeInteger(unixSeconds) || unixSeconds < 0) throw new Error('the signature timestamp is whole seconds');
  return [`t=${unixSeconds}`, ...secrets.map((s) => `v1=${signPayload(s, unixSeconds, body)}`)].join(',');
}

/**
 * What a receiver does (the README shows the same in three lines): the timestamp is recent and one of
 * the `v1` signatures is the HMAC of `<t>.<body>` under its secret, compared in constant time.
 */
export function verifySignature(header: string, secret: string, body: string, nowSeconds: number, toleranceSeconds = 300): boolean {
  const t = /(?:^|,)t=(\d{1,15})(?:,|$)/.exec(header)?.[1];
  if (t === undefined || Math.abs(nowSeconds - Number(t)) > toleranceSeconds) return false;
  const expected = Buffer.from(signPayload(secret, Number(t), body), 'hex');
  return [...header.matchAll(/(?:^|,)v1=([0-9a-f]{64})(?=,|$)/g)].some(([, v]) => timingSafeEqual(Buffer.from(v!, 'hex'), expected));
}
