import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { loadConfig } from '../../src/config/config.js';
import type { StreamedEvent } from './meter-stream.service.js';
import { MeterStreamService } from './meter-stream.service.js';

const ALL = { person: null, visible: null };

const event = (id: string, person: string | null): StreamedEvent =>
  ({ id, person_id: person, timestamp: '2026-03-15T10:00:00.000Z' }) as unknown as StreamedEvent;

beforeAll(() => Logger.overrideLogger(false));

describe('MeterStreamService (in-process)', () => {
  const service = new MeterStreamService(loadConfig({}));
  afterAll(() => service.onApplicationShutdown());

  it('delivers an account\'s events to its subscribers, narrowed by person, until they unsubscribe', async () => {
    const all: string[] = [];
    const mine: string[] = [];
    const other: string[] = [];
    const subAll = service.subscribe('acct-a', ALL, (e) => all.push(e.id));
    const subMine = service.subscribe('acct-a', { person: 'p1', visible: null }, (e) => mine.push(e.id));
    const subOther = service.subscribe('acct-b', ALL, (e) => other.push(e.id));
    await Promise.all([subAll.ready, subMine.ready, subOther.ready]);

    service.publish('acct-a', event('1', 'p1'));
    service.publish('acct-a', event('2', 'p2'));
    subMine();
    subMine(); // twice is harmless
    service.publish('acct-a', event('3', 'p1'));
    expect(all).toEqual(['1', '2', '3']);
    expect(mine).toEqual(['1']);
    expect(other).toEqual([]);
    subAll();
    subOther();
  });

  it('a failing listener neither throws into publish nor stops the others', async () => {
    const got: string[] = [];
    const bad = service.subscribe('acct-c', ALL, () => {
      throw new Error('boom');
    });
    const good = service.subscribe('acct-c', ALL, (e) => got.push(e.id));
    await good.ready;
    expect(() => service.publish('acct-c', event('x', null))).not.toThrow();
    expect(got).toEqual(['x']);
    bad();
    good();
  });

  it('ends tracked streams before shutdown', () => {
    let ended = 0;
    service.trackStream(() => ended++);
    const untrack = service.trackStream(() => ended++);
    untrack();
    service.beforeApplicationShutdown();
    expect(ended).toBe(1);
  });
});

// With Redis, what one API process publishes reaches every process's subscribers.
const redisUrl = process.env.REDIS_URL;
(redisUrl ? describe : describe.skip)('MeterStreamService over Redis', () => {
  const env = { REDIS_URL: redisUrl, TOKENMETER_QUEUE_PREFIX: `{mst_${randomBytes(4).toString('hex')}}` };
  const a = new MeterStreamService(loadConfig(env));
  const b = new MeterStreamService(loadConfig(env));
  afterAll(async () => {
    await Promise.all([a.onApplicationShutdown(), b.onApplicationShutdown()]);
  });

  it('delivers across processes, once, per account', async () => {
    const onA: string[] = [];
    const onB: string[] = [];
    const subA = a.subscribe('acct-r', ALL, (e) => onA.push(e.id));
    const subB = b.subscribe('acct-r', { person: 'p1', visible: null }, (e) => onB.push(e.id));
    const elsewhere = b.subscribe('acct-other', ALL, (e) => onB.push(`other:${e.id}`));
    await Promise.all([subA.ready, subB.ready, elsewhere.ready]);
    a.publish('acct-r', event('1', 'p1'));
    a.publish('acct-r', event('2', 'p2'));
    b.publish('acct-r', event('3', 'p1'));
    const deadline = Date.now() + 5000;
    while ((onA.length < 3 || onB.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // One process's events arrive in the order it published them; two processes' publishes race
    // each other on their own connections, so 3 may come before, between or after 1 and 2.
    expect([...onA].sort()).toEqual(['1', '2', '3']);
    expect(onA.filter((id) => id !== '3')).toEqual(['1', '2']);
    expect([...onB].sort()).toEqual(['1', '3']);
    subA();
    subB();
    elsewhere();
  });

  it('builds and publishes an account\'s operations only while some process has subscribers for it', async () => {
    const c = new MeterStreamService(loadConfig(env)); // ingests, has no subscribers of its own
    try {
      let built = 0;
      const batch = (id: string) => () => {
        built += 1;
        return [event(id, null)];
      };
      c.publishMany('acct-q', batch('unheard'));
      expect(built).toBe(0);

      const got: string[] = [];
      const sub = a.subscribe('acct-q', ALL, (e) => got.push(e.id));
      await sub.ready;
      // a's announcement reaches c through Redis; from then on c publishes acct-q's operations.
      const deadline = Date.now() + 5000;
      while (built === 0 && Date.now() < deadline) {
        c.publishMany('acct-q', batch('heard'));
        await new Promise((r) => setTimeout(r, 10));
      }
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect(got).toEqual(['heard']);
      c.publishMany('acct-other-q', batch('nobody'));
      expect(built).toBe(1);
      sub();
    } finally {
      await c.onApplicationShutdown();
    }
  });
});
