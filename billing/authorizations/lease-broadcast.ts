// Budget leases across service processes (Redis pub/sub). A lease is room one process holds for itself;
// another process that is denied near a limit cannot give it back, only ask. `ask` publishes the account
// on one channel; every other process subscribed gives back its leases on that account (and takes none
// there for a while, see HoldLeases.releaseForOther) and answers, saying whether it had any; `ask`
// resolves once every other subscriber answered (PUBLISH says how many received it), or after timeoutMs.
// Lost messages only cost a denial that a retry could have turned: a lease never holds more than it was
// given, so nothing here can let a hold pass a limit.
import { Logger } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../../src/redis/redis-client.js';

type Message = { t: 'ask'; id: string; account: string; now: number } | { t: 'done'; id: string; had: boolean };

interface Asking {
  expected: number | null;
  answers: number;
  had: boolean;
  resolve: (had: boolean) => void;
  timer: NodeJS.Timeout;
}

export class LeaseBroadcast {
  private readonly logger = new Logger('authorizations');
  private readonly processId = randomBytes(9).toString('base64url');
  private seq = 0;
  private readonly asking = new Map<string, Asking>();
  private subscribed: Promise<unknown> | null = null;
  /** Whether this process's own subscription receives what it publishes (PUBLISH then counts it too). */
  private listening = false;

  constructor(
    /** Publishes (the engine's connection). */
    private readonly publisher: RedisClient,
    /** Its own connection: a subscribed one can do nothing else. */
    private readonly subscriber: RedisClient,
    private readonly channel: string,
    private readonly timeoutMs = 1000,
  ) {}

  /** Subscribes (resolved once subscribed); `onAsk` gives back this process's leases on the account and says whether it had any. */
  start(onAsk: (account: string, now: Date) => Promise<boolean>): Promise<unknown> {
    this.subscriber.on('message', (channel: string, text: string) => {
      if (channel !== this.channel) return;
      let message: Message;
      try {
        message = JSON.parse(text) as Message;
      } catch {
        return;
      }
      if (message.t === 'done') this.answered(message.id, message.had);
      else if (!message.id.startsWith(`${this.processId}:`)) {
        void onAsk(message.account, new Date(message.now))
          .catch((error: unknown) => {
            this.logger.error({ err: error, account: message.account }, 'budget leases asked for by another process could not be given back');
            return false;
          })
          .then((had) => this.publisher.publish(this.channel, JSON.stringify({ t: 'done', id: message.id, had } satisfies Message)))
          .catch(() => undefined);
      }
    });
    this.subscribed = this.subscriber.subscribe(this.channel).then(() => (this.listening = true), (error: unknown) => {
      this.logger.error({ err: error }, 'budget leases: no subscription to other processes; their leases are not given back on a denial here');
    });
    return this.subscribed;
  }

  /** Asks every other process to give back its leases on the account; whether any had one. */
  async ask(account: string, now: Date): Promise<boolean> {
    await this.subscribed;
    const id = `${this.processId}:${++this.seq}`;
    const answered = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.finish(id), this.timeoutMs);
      timer.unref();
      this.asking.set(id, { expected: null, answers: 0, had: false, resolve, timer });
    });
    let receivers: number;
    try {
      receivers = await this.publisher.publish(this.channel, JSON.stringify({ t: 'ask', id, account, now: now.getTime() } satisfies Message));
    } catch (error) {
      this.logger.error({ err: error, account }, 'budget leases: other processes could not be asked to give theirs back');
      this.finish(id);
      return answered;
    }
    const asking = this.asking.get(id);
    if (asking) {
      asking.expected = receivers - (this.listening ? 1 : 0);
      if (asking.answers >= asking.expected) this.finish(id);
    }
    return answered;
  }

  async close(): Promise<void> {
    for (const id of [...this.asking.keys()]) this.finish(id);
    await this.subscriber.quit().catch(() => this.subscriber.disconnect());
  }

  private answered(id: string, had: boolean): void {
    const asking = this.asking.get(id);
    if (!asking) return;
    asking.answers++;
    asking.had ||= had;
    if (asking.expected !== null && asking.answers >= asking.expected) this.finish(id);
  }

  private finish(id: string): void {
    const asking = this.asking.get(id);
    if (!asking) return;
    this.asking.delete(id);
    clearTimeout(asking.timer);
    asking.resolve(asking.had);
  }
}
