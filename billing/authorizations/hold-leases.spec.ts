// HoldLeases over an in-memory LeaseStore (its Redis and PostgreSQL side is test/authorization-leases.e2e-spec.ts):
// when a lease is taken and answers, and how a denial gives back leases here and asks the other processes.
import type { HoldRequest } from './counters.js';
import { HoldLeases, type LeaseStore } from './hold-leases.js';
import { DEFAULT_LEASE, type LeaseSettings } from './lease-policy.js';

const SETTINGS: LeaseSettings = { ...DEFAULT_LEASE, carveDelayMs: 0 };
const T0 = Date.parse('2026-03-15T12:00:00.000Z');
const LEVELS = ['cap/agent:a1'];
/** A tmHold reply on one level: limit 1,000.00, nothing spent or held. */
const FIGURES = ['ok', 0, 1_000_000_000, '-', 0, 0, 0, 0];
let n = 0;

function request(now: number): HoldRequest {
  return {
    reservationId: `res_${++n}`,
    levels: LEVELS,
    estimate: { amount: '0.1', tokens: 0 },
    expiresAt: new Date(now + 600_000),
    agentId: 'a1',
    personId: 'p1',
    session: null,
    detail: {},
    now: new Date(now),
  };
}

function store(askOthers?: (account: string, now: Date) => Promise<boolean>) {
  const log = { held: [] as string[], released: [] as string[], asked: [] as string[] };
  const s: LeaseStore = {
    hold: async (_account, req) => {
      log.held.push(req.reservationId);
      return FIGURES;
    },
    write: async (_id, ready) => {
      await ready;
    },
    carve: async () => ['ok', 0],
    release: async (_account, id) => {
      log.released.push(id);
    },
    unhold: async () => undefined,
    ...(askOthers
      ? {
          askOthers: (account: string, now: Date) => {
            log.asked.push(`${account}@${now.getTime() - T0}`);
            return askOthers(account, now);
          },
        }
      : {}),
  };
  return { store: s, log };
}

/** Makes the path busy (busyHolds holds allowed through Redis) and waits for its lease. */
async function busy(leases: HoldLeases, now: number) {
  for (let i = 0; i < SETTINGS.busyHolds; i++) leases.allowed('acme', request(now), 100_000, FIGURES);
  // Taken in the background: its hold, then its row.
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
}

describe('HoldLeases', () => {
  it('leases a busy path and answers its holds from memory', async () => {
    const { store: s, log } = store();
    const leases = new HoldLeases(SETTINGS, s);
    expect(leases.take('acme', request(T0), 100_000)).toBeNull();
    await busy(leases, T0);
    expect(log.held).toHaveLength(1);
    expect(log.held[0]).toMatch(/^lease_/);
    const answer = leases.take('acme', request(T0), 100_000);
    expect(answer?.[0]).toBe('ok');
    await leases.releaseAll();
    expect(log.released).toEqual(log.held);
  });

  it('on a denial releases its leases, asks the other processes once per useMs, and takes no lease meanwhile', async () => {
    const { store: s, log } = store(async () => false);
    const leases = new HoldLeases(SETTINGS, s);
    await busy(leases, T0);
    // Its own lease may have been what was missing: worth a retry.
    expect(await leases.releaseEverywhere('acme', new Date(T0 + 10))).toBe(true);
    expect(log.released).toHaveLength(1);
    expect(log.asked).toEqual(['acme@10']);
    // Within useMs: nobody asked again, no lease of its own to give back, no lease taken.
    expect(await leases.releaseEverywhere('acme', new Date(T0 + 20))).toBe(false);
    for (let i = 0; i < 20; i++) leases.allowed('acme', request(T0 + 30), 100_000, FIGURES);
    await new Promise((r) => setImmediate(r));
    expect(log.held).toHaveLength(1);
    expect(log.asked).toEqual(['acme@10']);
    // After useMs the others are asked again.
    expect(await leases.releaseEverywhere('acme', new Date(T0 + 10 + SETTINGS.useMs))).toBe(false);
    expect(log.asked).toEqual(['acme@10', `acme@${10 + SETTINGS.useMs}`]);
  });

  it('denials while the others are being asked wait for that one ask and share its answer', async () => {
    let answer!: (had: boolean) => void;
    const { store: s, log } = store(() => new Promise<boolean>((resolve) => (answer = resolve)));
    const leases = new HoldLeases(SETTINGS, s);
    const first = leases.releaseEverywhere('acme', new Date(T0));
    const second = leases.releaseEverywhere('acme', new Date(T0 + 1));
    let settled = false;
    void second.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    answer(true);
    expect(await Promise.all([first, second])).toEqual([true, true]);
    expect(log.asked).toEqual(['acme@0']);
  });

  it('gives back its leases when another process asks, and is not asked back within useMs', async () => {
    const { store: s, log } = store(async () => true);
    const leases = new HoldLeases(SETTINGS, s);
    await busy(leases, T0);
    expect(await leases.releaseForOther('acme', new Date(T0 + 5))).toBe(true);
    expect(log.released).toEqual(log.held);
    expect(await leases.releaseForOther('acme', new Date(T0 + 6))).toBe(false);
    // The asking process already asked everyone: a denial here asks nobody.
    expect(await leases.releaseEverywhere('acme', new Date(T0 + 7))).toBe(false);
    expect(log.asked).toEqual([]);
    // Another account is asked about on its own.
    expect(await leases.releaseEverywhere('globex', new Date(T0 + 8))).toBe(true);
    expect(log.asked).toEqual(['globex@8']);
  });
});
