import fc from 'fast-check';
import { DomainError } from '../domain-error.js';
import { IN_FLIGHT_MS, idempotencyKeyOf, requestFingerprint, retryError, retryOutcome } from './idempotency.js';

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
    const stored = { fingerprint: 'f', request: 'POST /v1/x', status: 201, body: '{"id":"g1","amount":"3"}', createdAt: TAKEN, committedAt: null };
    expect(retryOutcome(stored, 'f', LATER)).toEqual({ kind: 'replay', status: 201, body: { id: 'g1', amount: '3' } });
    expect(retryOutcome({ ...stored, body: null, status: 204 }, 'f', LATER)).toEqual({ kind: 'replay', status: 204, body: undefined });
    expect(retryOutcome({ ...stored, status: null, body: null }, 'f', LATER)).toEqual({ kind: 'in_progress' });
    // Another request is refused whether the first finished or not.
    expect(retryOutcome(stored, 'g', LATER)).toEqual({ kind: 'reused', request: 'POST /v1/x' });
    expect(retryOutcome({ ...stored, status: null, body: null }, 'g', LATER)).toEqual({ kind: 'reused', request: 'POST /v1/x' });
    const inUse = retryError({ kind: 'in_progress' });
    const reused = retryError({ kind: 'reused', request: 'POST /v1/x' });
    expect([inUse, reused].every((e) => e instanceof DomainError)).toBe(true);
    expect([inUse.kind, inUse.code, reused.kind, reused.code]).toEqual(['conflict', 'idempotency_key_in_use', 'unprocessable', 'idempotency_key_reused']);
    expect(reused.message).toContain('POST /v1/x');
  });

  it('says a write that committed without keeping its answer is in progress for the minute it may keep it, then done and not done again', () => {
    const committed = { fingerprint: 'f', request: 'POST /v1/x', status: null, body: null, createdAt: TAKEN, committedAt: new Date(TAKEN.getTime() + 40) };
    const at = (ms: number) => new Date(TAKEN.getTime() + ms);
    expect(retryOutcome(committed, 'f', at(1_000)).kind).toBe('in_progress');
    expect(retryOutcome(committed, 'f', at(IN_FLIGHT_MS)).kind).toBe('in_progress');
    const after = retryOutcome(committed, 'f', at(IN_FLIGHT_MS + 1));
    expect(after).toEqual({ kind: 'unanswered', request: 'POST /v1/x', committedAt: committed.committedAt });
    // A request that never committed stays in progress (the repository gives its key to a retry after the minute).
    expect(retryOutcome({ ...committed, committedAt: null }, 'f', at(IN_FLIGHT_MS + 1)).kind).toBe('in_progress');
    // Another body is still another request.
    expect(retryOutcome(committed, 'g', at(IN_FLIGHT_MS + 1)).kind).toBe('reused');
    // An answer kept late is replayed whenever it is asked for.
    expect(retryOutcome({ ...committed, status: 201, body: '{}' }, 'f', at(IN_FLIGHT_MS * 10)).kind).toBe('replay');
    const error = retryError(after as Extract<typeof after, { kind: 'unanswered' }>);
    expect([error.kind, error.code]).toEqual(['conflict', 'idempotency_key_unanswered']);
    expect(error.message).toContain('POST /v1/x');
    expect(error.message).toContain('2026-03-15T12:00:00.040Z');
  });
});

const TAKEN = new Date('2026-03-15T12:00:00.000Z');
const LATER = new Date('2026-03-15T12:05:00.000Z');

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
}
