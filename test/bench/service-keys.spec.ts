// The bench removes a stopped service's Redis keys (its jobs and its counters) and no one else's.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { removeKeys } from './service.js';

const redisUrl = process.env.REDIS_URL;

(redisUrl ? describe : describe.skip)('removeKeys (REDIS_URL)', () => {
  it("removes the keys of the service's queue prefix, its jobs' and its counters', and leaves its neighbours'", async () => {
    const ns = `tmt_rk_${randomBytes(4).toString('hex')}`;
    const own = [`{${ns}}:jobs:meta`, `{${ns}}:jobs:1`, `{${ns}:acct:a}:r`, `{${ns}:acct:b}:e`];
    const neighbours = [`{${ns}_redis}:jobs:meta`, `{${ns}_redis:acct:a}:r`, `{${ns}x}:jobs:meta`, `${ns}:plain`];
    const redis = new Redis(redisUrl!);
    try {
      for (const key of [...own, ...neighbours]) await redis.set(key, '1');
      expect(await removeKeys(redisUrl!, `{${ns}}`)).toBe(own.length);
      expect(await redis.exists(...own)).toBe(0);
      expect(await redis.exists(...neighbours)).toBe(neighbours.length);
    } finally {
      await redis.unlink(...own, ...neighbours);
      redis.disconnect();
    }
  });
});
