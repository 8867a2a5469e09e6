// Live operations fanned out to SSE subscribers: over Redis pub/sub (a channel per account) when REDIS_URL
// is set, so every API process's subscribers see every process's ingest; in-process otherwise.
// A process with subscribers of an account says so on a control channel (when the first subscribes, and
// every ANNOUNCE_MS while any remain, and at once when a starting process asks), and ingest builds and
// publishes an account's operations only while some process has said so in the last LISTENED_MS: a meter
// nobody watches costs nothing.
import { EventEmitter } from 'node:events';
import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../../src/config/config.js';
import { redisClient, type RedisClient } from '../../src/redis/redis-client.js';
import { ShutdownReport } from '../../src/lifecycle/shutdown-report.js';
import type { EventView } from '../readings/event-view.js';
import { inScope, type StreamScope } from './stream-totals.js';

/** One accepted operation as the listing shows it (GET /v1/accounts/:account/events). */
export type StreamedEvent = EventView;
export type StreamListener = (event: StreamedEvent) => void;

/** Call it to unsubscribe; `ready` settles once the subscription receives what is published from then on. */
export interface Subscription {
  (): void;
  readonly ready: Promise<void>;
}

const ANNOUNCE_MS = 10_000;
const LISTENED_MS = 3 * ANNOUNCE_MS;
/** On the control channel: "who has subscribers?" (account ids never contain a question mark). */
const ASK = '?';

@Injectable()
export class MeterStreamService implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger('meter-stream');
  private readonly local = new EventEmitter();
  private readonly publisher: RedisClient | null = null;
  private readonly subscriber: RedisClient | null = null;
  private readonly channelPrefix: string;
  /** Per account: local listeners and the Redis SUBSCRIBE they share. */
  private readonly channels = new Map<string, { listeners: number; subscribed: Promise<void> }>();
  private readonly openStreams = new Set<() => void>();
  /** Accounts some process has subscribers for, with when it last said so (performance.now()). */
  private readonly listened = new Map<string, number>();
  private readonly controlChannel: string;
  private announcer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly shutdown: ShutdownReport = new ShutdownReport(),
  ) {
    this.local.setMaxListeners(0);
    this.channelPrefix = `${config.queuePrefix}:meter:`;
    this.controlChannel = `${config.queuePrefix}:meter-listeners`;
    if (config.redisUrl !== null) {
      this.publisher = this.connect(config, 'publisher');
      this.subscriber = this.connect(config, 'subscriber');
      // Once this process hears the control channel, it asks the others who is listening ("?").
      this.subscriber
        .subscribe(this.controlChannel)
        .then(() => this.publisher!.publish(this.controlChannel, ASK))
        .catch((err: unknown) => {
          this.logger.warn({ err }, 'could not subscribe to the meter listeners channel');
        });
      this.subscriber.on('message', (channel: string, message: string) => {
        if (channel === this.controlChannel) {
          if (message === ASK) {
            this.announce([...this.channels.keys()]).catch((err: unknown) => {
              this.logger.warn({ err }, 'could not announce meter listeners');
            });
            return;
          }
          for (const accountId of message.split('\n')) if (accountId) this.listened.set(accountId, performance.now());
          return;
        }
        if (!channel.startsWith(this.channelPrefix)) return;
        let events: StreamedEvent[];
        try {
          // One message per ingested batch: an array of operations (a single object is accepted too).
          const parsed = JSON.parse(message) as StreamedEvent | StreamedEvent[];
          events = Array.isArray(parsed) ? parsed : [parsed];
        } catch {
          this.logger.warn({ channel }, 'dropped a meter message that is not JSON');
          return;
        }
        const accountId = channel.slice(this.channelPrefix.length);
        for (const event of events) this.deliver(accountId, event);
      });
    }
  }

  /** Hands an accepted, committed operation to the account's subscribers. Never throws; delivery is best effort. */
  publish(accountId: string, event: StreamedEvent): void {
    this.publishMany(accountId, () => [event]);
  }

  /**
   * A whole batch in one Redis message. `events` is only built when someone may be listening: always
   * with Redis (listeners may be in other processes), only with local listeners otherwise.
   */
  publishMany(accountId: string, events: () => StreamedEvent[]): void {
    if (this.publisher === null) {
      if (this.local.listenerCount(accountId) === 0) return;
      for (const event of events()) this.deliver(accountId, event);
      return;
    }
    if (this.local.listenerCount(accountId) === 0) {
      const said = this.listened.get(accountId);
      if (said === undefined) return;
      if (performance.now() - said > LISTENED_MS) {
        this.listened.delete(accountId);
        return;
      }
    }
    const batch = events();
    if (batch.length === 0) return;
    this.publisher.publish(this.channelPrefix + accountId, JSON.stringify(batch)).catch((err: unknown) => {
      this.logger.warn({ err, accountId }, 'could not publish meter events');
    });
  }

  /** Listens to an account's operations, or to one person's (personId) only. */
  subscribe(accountId: string, scope: StreamScope, listener: StreamListener): Subscription {
    const wrapped = (event: StreamedEvent) => {
      if (!inScope(event, scope)) return;
      try {
        listener(event);
      } catch (err) {
        this.logger.warn({ err, accountId }, 'a meter stream listener failed');
      }
    };
    this.local.on(accountId, wrapped);
    const ready = this.retain(accountId);
    let active = true;
    const unsubscribe = () => {
      if (!active) return;
      active = false;
      this.local.off(accountId, wrapped);
      this.release(accountId);
    };
    return Object.assign(unsubscribe, { ready });
  }

  /** Open SSE responses register their end here, so shutdown is not held open by a connected client. */
  trackStream(end: () => void): () => void {
    this.openStreams.add(end);
    return () => this.openStreams.delete(end);
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.announcer !== null) clearInterval(this.announcer);
    this.announcer = null;
    await this.shutdown.step('meter_streams', { open: this.openStreams.size }, () => {
      for (const end of [...this.openStreams]) end();
      this.openStreams.clear();
    });
  }

  async onApplicationShutdown(): Promise<void> {
    const connections = [this.publisher, this.subscriber].filter((redis) => redis !== null);
    if (connections.length === 0) return;
    await this.shutdown.step('meter_redis', { connections: connections.length }, () =>
      Promise.all(
        connections.map(async (redis) => {
          try {
            await redis.quit();
          } catch {
            redis.disconnect();
          }
        }),
      ),
    );
  }

  private deliver(accountId: string, event: StreamedEvent): void {
    this.local.emit(accountId, event);
  }

  private retain(accountId: string): Promise<void> {
    const existing = this.channels.get(accountId);
    if (existing) {
      existing.listeners += 1;
      return existing.subscribed;
    }
    const subscribed =
      this.subscriber === null
        ? Promise.resolve()
        : this.subscriber.subscribe(this.channelPrefix + accountId).then(() => this.announce([accountId]));
    // A failed SUBSCRIBE is reported to the waiting caller; keep the rejection from going unhandled here.
    subscribed.catch(() => undefined);
    this.channels.set(accountId, { listeners: 1, subscribed });
    return subscribed;
  }

  private release(accountId: string): void {
    const entry = this.channels.get(accountId);
    if (!entry) return;
    entry.listeners -= 1;
    if (entry.listeners > 0) return;
    this.channels.delete(accountId);
    this.subscriber?.unsubscribe(this.channelPrefix + accountId).catch((err: unknown) => {
      this.logger.warn({ err, accountId }, 'could not unsubscribe from a meter channel');
    });
  }

  /** Tells every process (this one too) that these accounts have subscribers here. */
  private async announce(accountIds: readonly string[]): Promise<void> {
    if (this.publisher === null || accountIds.length === 0) return;
    await this.publisher.publish(this.controlChannel, accountIds.join('\n'));
    if (this.announcer === null) {
      this.announcer = setInterval(() => {
        if (this.channels.size === 0) {
          clearInterval(this.announcer!);
          this.announcer = null;
          return;
        }
        this.announce([...this.channels.keys()]).catch((err: unknown) => {
          this.logger.warn({ err }, 'could not announce meter listeners');
        });
      }, ANNOUNCE_MS);
      this.announcer.unref();
    }
  }

  private connect(config: AppConfig, role: string): RedisClient {
    const redis = redisClient({ url: config.redisUrl!, cluster: config.redisCluster }, { maxRetriesPerRequest: 3 });
    let lastLogged = 0;
    redis.on('error', (err: unknown) => {
      // ioredis retries on its own; one line every 30 s is enough to say Redis is unreachable.
      const now = performance.now();
      if (now - lastLogged > 30_000) {
        lastLogged = now;
        this.logger.warn({ err, role }, 'Redis connection error (meter stream)');
      }
    });
    return redis;
  }
}
