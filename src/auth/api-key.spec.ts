import { digestKey, digestsMatch, issueKey, parseKeyId } from './api-key.js';

describe('api keys', () => {
  it('issues tm_<env>_<id>_<secret> keys whose id parses back', () => {
    const key = issueKey('live');
    expect(key.secret).toMatch(/^tm_live_[A-Za-z0-9]{16}_[A-Za-z0-9]{40}$/);
    expect(parseKeyId(key.secret)).toBe(key.id);
    expect(key.digest.equals(digestKey(key.secret))).toBe(true);
  });

  it('never issues the same key twice', () => {
    const seen = new Set(Array.from({ length: 200 }, () => issueKey('test').secret));
    expect(seen.size).toBe(200);
  });

  it('matches only the exact key', () => {
    const key = issueKey('live');
    expect(digestsMatch(key.secret, key.digest)).toBe(true);
    const last = key.secret.slice(-1);
    const altered = `${key.secret.slice(0, -1)}${last === 'x' ? 'y' : 'x'}`;
    expect(digestsMatch(altered, key.digest)).toBe(false);
    expect(digestsMatch('', key.digest)).toBe(false);
  });

  it('rejects malformed keys', () => {
    for (const bad of ['', 'tm_live_short_x', 'Bearer x', `tm_LIVE_${'a'.repeat(16)}_${'b'.repeat(40)}`]) {
      expect(parseKeyId(bad)).toBeNull();
    }
  });
});
