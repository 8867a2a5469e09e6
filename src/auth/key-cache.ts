// The guard's memory of recently used keys, so a busy agent's requests (ingest, authorize) do not each
// read its key, person and agent from the database. A remembered key is used for at most `ttlMs`
// (TOKENMETER_KEY_CACHE_MS, default 1 s; 0 turns the cache off). Every write that can turn a key away
// (revoking it, deactivating its person, its agent or the agent's owner, replacing the bootstrap key)
// calls `forgetAll()` once its transaction has committed, so in the process that made the change it
// takes effect at once; other processes see it within `ttlMs`.
//
// A lookup that began before a forget may have read the old row: it is answered but not remembered
// (the generation it started in is compared when it ends), so a stale row never outlives the forget.
import { Inject, Injectable, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import type { KeyForAuth } from './api-keys.repository.js';

/** Remembers values by key for a bounded time, and never a value read before the last `forgetAll()`. */
export class TimedCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  private generation = 0;

  constructor(
    readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The remembered value of `key`, or else `load()`'s (remembered when it is not null). */
  async get(key: string, load: () => Promise<V | null>): Promise<V | null> {
    if (this.ttlMs === 0) return load();
    const hit = this.entries.get(key);
    const at = this.now();
    if (hit !== undefined && hit.until > at) return hit.value;
    if (hit !== undefined) this.entries.delete(key);
    const started = this.generation;
    const value = await load();
    if (value !== null && started === this.generation) {
      if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { value, until: this.now() + this.ttlMs });
    }
    return value;
  }

  forgetAll(): void {
    this.generation += 1;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

@Injectable()
export class KeyCache extends TimedCache<KeyForAuth> {
  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    super(config.keyCacheMs, 100_000);
  }
}

/** Imported by the guard's module and by every module whose writes can turn a key away. */
@Module({ providers: [KeyCache], exports: [KeyCache] })
export class KeyCacheModule {}
