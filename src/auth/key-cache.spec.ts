import { TimedCache } from './key-cache.js';

describe('TimedCache (the guard\'s memory of keys)', () => {
  let now = 0;
  const clock = () => now;
  let loads = 0;
  const loader = (value: string | null) => async () => {
    loads += 1;
    return value;
  };
  beforeEach(() => {
    now = 0;
    loads = 0;
  });

  it('answers from memory within the time to live, and reads again after it', async () => {
    const cache = new TimedCache<string>(1000, 10, clock);
    expect(await cache.get('k', loader('v1'))).toBe('v1');
    now = 999;
    expect(await cache.get('k', loader('v2'))).toBe('v1');
    now = 1000;
    expect(await cache.get('k', loader('v2'))).toBe('v2');
    expect(loads).toBe(2);
  });

  it('never remembers a miss: a key created later is found at once', async () => {
    const cache = new TimedCache<string>(1000, 10, clock);
    expect(await cache.get('k', loader(null))).toBeNull();
    expect(await cache.get('k', loader('new'))).toBe('new');
  });

  it('forgets everything at once, and does not remember a row read before the forget', async () => {
    const cache = new TimedCache<string>(60_000, 10, clock);
    await cache.get('a', loader('old-a'));
    cache.forgetAll();
    expect(await cache.get('a', loader('new-a'))).toBe('new-a');

    // A lookup in flight while a revocation commits: it answers what it read, but that is not kept.
    let finish!: (v: string) => void;
    const inFlight = cache.get('b', () => new Promise<string>((resolve) => (finish = resolve)));
    cache.forgetAll();
    finish('stale-b');
    expect(await inFlight).toBe('stale-b');
    expect(await cache.get('b', loader('fresh-b'))).toBe('fresh-b');
  });

  it('with a time to live of 0 reads on every call', async () => {
    const cache = new TimedCache<string>(0, 10, clock);
    await cache.get('k', loader('v'));
    await cache.get('k', loader('v'));
    expect(loads).toBe(2);
    expect(cache.size).toBe(0);
  });

  it('holds at most its bound of keys, dropping the oldest', async () => {
    const cache = new TimedCache<string>(60_000, 2, clock);
    await cache.get('a', loader('a'));
    await cache.get('b', loader('b'));
    await cache.get('c', loader('c'));
    expect(cache.size).toBe(2);
    loads = 0;
    await cache.get('c', loader('c'));
    await cache.get('a', loader('a'));
    expect(loads).toBe(1);
  });
});
