import fc from 'fast-check';
import { DomainError } from '../domain-error.js';
import { idempotencyKeyOf, requestFingerprint, retryError, retryOutcome } from './idempotency.js';

/** Any JSON value, objects with their fields in the order given. */
const json = fc.jsonValue({ maxDepth: 3 });

/** The same value with every object's fields in another order. */
function shuffled(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffled(v, seed + i));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value);
  const rotated = entries.map((_, i) => entries[(i + seed) % entries.length]!).reverse();
  return Object.fromEntries(rotated.map(([k, v]) => [k, shuffled(v, seed + 1)]));
}

describe('idempotency rules', () => {
  it('takes a key of 1 to 255 visible ASCII characters and refuses any other', () => {
    expect(idempotencyKeyOf(undefined)).toBeNull();
    expect(idempotencyKeyOf('3f1c2a4e-7d7e-4b8e-9a51-0c6d1e2f3a4b')).toBe('3f1c2a4e-7d7e-4b8e-9a51-0c6d1e2f3a4b');
    expect(idempotencyKeyOf('x'.repeat(255))).toHaveLength(255);
    for (const bad of ['', 'a b', 'x'.repeat(256), 'tab\there', 'é', ['a', 'b']]) {
      expect(() => idempotencyKeyOf(bad)).toThrow(expect.objectContaining({ code: 'invalid_idempotency_key', kind: 'invalid' }));
    }
  });

  it('law: a request is the same whatever the order of its objects’ fields', () => {
    fc.assert(
      fc.property(json, fc.nat(10), (body, seed) => {
        expect(requestFingerprint('POST', '/v1/x', shuffled(body, seed))).toBe(requestFingerprint('POST', '/v1/x', body));
      }),
    );
  });

  it('law: another method, path, query or body value is another request', () => {
    fc.assert(
      fc.property(json, json, (a, b) => {
        const same = requestFingerprint('POST', '/v1/x', a) === requestFingerprint('POST', '/v1/x', b);
        expect(same).toBe(JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b)));
      }),
    );
    expect(requestFingerprint('POST', '/v1/x', { a: 1 })).not.toBe(requestFingerprint('PUT', '/v1/x', { a: 1 }));
    expect(requestFingerprint('POST', '/v1/x', { a: 1 })).not.toBe(requestFingerprint('POST', '/v1/y', { a: 1 }));
    expect(requestFingerprint('POST', '/v1/x?a=1', { a: 1 })).not.toBe(requestFingerprint('POST', '/v1/x?a=2', { a: 1 }));
    expect(requestFingerprint('POST', '/v1/x', [1, 2])).not.toBe(requestFingerprint('POST', '/v1/x', [2, 1]));
    expect(requestFingerprint('POST', '/v1/x', undefined)).not.toBe(requestFingerprint('POST', '/v1/x', null));
  });

  it('replays a finished request, says a running one is in progress, refuses another request', () => {
    const stored = { fingerprint: 'f', request: 'POST /v1/x', status: 201, body: '{"id":"g1","amount":"3"}' };
    expect(retryOutcome(stored, 'f')).toEqual({ kind: 'replay', status: 201, body: { id: 'g1', amount: '3' } });
    expect(retryOutcome({ ...stored, body: null, status: 204 }, 'f')).toEqual({ kind: 'replay', status: 204, body: undefined });
    expect(retryOutcome({ ...stored, status: null, body: null }, 'f')).toEqual({ kind: 'in_progress' });
    // Another request is refused whether the first finished or not.
    expect(retryOutcome(stored, 'g')).toEqual({ kind: 'reused', request: 'POST /v1/x' });
    expect(retryOutcome({ ...stored, status: null, body: null }, 'g')).toEqual({ kind: 'reused', request: 'POST /v1/x' });
    const inUse = retryError({ kind: 'in_progress' });
    const reused = retryError({ kind: 'reused', request: 'POST /v1/x' });
    expect([inUse, reused].every((e) => e instanceof DomainError)).toBe(true);
    expect([inUse.kind, inUse.code, reused.kind, reused.code]).toEqual(['conflict', 'idempotency_key_in_use', 'unprocessable', 'idempotency_key_reused']);
    expect(reused.message).toContain('POST /v1/x');
  });
});

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
}
