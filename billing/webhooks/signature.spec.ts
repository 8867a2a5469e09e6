import fc from 'fast-check';
import { newSigningSecret, signatureHeader, signPayload, verifySignature } from './signature.js';

describe('webhook signature', () => {
  const secret = 'whsec_test_secret';

  it('is the HMAC-SHA256 of "<t>.<body>" in hex (checked against openssl)', () => {
    // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test_secret
    expect(signPayload(secret, 1_700_000_000, '{"a":1}')).toBe('aecbc681fe3d2604c08ff8e880a0988d997a12367fcf9545e6a3b90c1dfc04b7');
  });

  it('puts the time first and one v1 per valid secret', () => {
    const header = signatureHeader([secret, 'whsec_old'], 1_700_000_000, 'body');
    expect(header).toBe(`t=1700000000,v1=${signPayload(secret, 1_700_000_000, 'body')},v1=${signPayload('whsec_old', 1_700_000_000, 'body')}`);
  });

  it('new secrets are distinct and prefixed', () => {
    const a = newSigningSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9_-]{32}$/);
    expect(newSigningSecret()).not.toBe(a);
  });

  it('law: a signed body verifies with any of its secrets, within the tolerance', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 1 }), fc.string({ minLength: 1 }), fc.integer({ min: 0, max: 2 ** 40 }), fc.integer({ min: -300, max: 300 }), (body, s1, s2, t, skew) => {
        const header = signatureHeader([s1, s2], t, body);
        expect(verifySignature(header, s1, body, t + skew)).toBe(true);
        expect(verifySignature(header, s2, body, t + skew)).toBe(true);
      }),
    );
  });

  it('law: another body, another secret, another time or a stale time does not verify', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string({ minLength: 1 }), fc.integer({ min: 0, max: 2 ** 40 }), (body, other, s, t) => {
        fc.pre(other !== body);
        const header = signatureHeader([s], t, body);
        expect(verifySignature(header, s, other, t)).toBe(false);
        expect(verifySignature(header, `${s}x`, body, t)).toBe(false);
        expect(verifySignature(header.replace(/^t=\d+/, `t=${t + 1}`), s, body, t)).toBe(false);
        expect(verifySignature(header, s, body, t + 301)).toBe(false);
      }),
    );
  });
});
