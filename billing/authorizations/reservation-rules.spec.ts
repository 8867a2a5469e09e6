import { newReservationId, newWriteId, randomFromPool } from './reservation-rules.js';

describe('reservation ids from the random pool', () => {
  it('are well formed and never repeat, across many refills of the pool', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) ids.add(newReservationId());
    expect(ids.size).toBe(20_000);
    for (const id of [...ids].slice(0, 50)) expect(id).toMatch(/^res_[A-Za-z0-9_-]{20}$/);
    const writes = new Set(Array.from({ length: 5_000 }, () => newWriteId()));
    expect(writes.size).toBe(5_000);
  });

  it('hands out each byte of the pool once: consecutive draws do not share bytes', () => {
    // 4096 = 273 * 15 + 1: a draw that does not fit what is left starts a fresh pool.
    const draws = Array.from({ length: 600 }, () => Buffer.from(randomFromPool(15)));
    const joined = Buffer.concat(draws);
    const chunks = new Set<string>();
    for (let i = 0; i + 15 <= joined.length; i += 15) chunks.add(joined.subarray(i, i + 15).toString('hex'));
    expect(chunks.size).toBe(600);
    // Copies stay as they were after later draws (nothing hands out a view that is later overwritten).
    const first = Buffer.from(draws[0]!);
    for (let i = 0; i < 1000; i++) randomFromPool(15);
    expect(draws[0]!.equals(first)).toBe(true);
  });
});
