import fc from 'fast-check';
import { parseDecimal } from '../../tiers/pricing/decimal.js';
import { decideHold, EXACT_SCALE, fromScaledInteger, microText, plainAmountText, REDIS_MAX_LIMIT, REDIS_SCALE, redisLimit, shortBy, toScaledInteger, type ScaledCounter } from './counter-math.js';

const decimal = fc
  .tuple(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }), fc.integer({ min: 0, max: 18 }))
  .map(([whole, fraction, places]) => (places === 0 ? whole.toString() : `${whole}.${fraction.toString().padStart(18, '0').slice(0, places)}`));

describe('scaled integers', () => {
  it('round up for spend and down for limits, never more than one unit off the exact value', () => {
    fc.assert(
      fc.property(decimal, fc.integer({ min: 0, max: 18 }), (value, scale) => {
        const exact = toScaledInteger(value, 18, 'exact');
        const unit = 10n ** BigInt(18 - scale);
        const up = toScaledInteger(value, scale, 'up') * unit;
        const down = toScaledInteger(value, scale, 'down') * unit;
        expect(up >= exact && exact >= down).toBe(true);
        expect(up - down <= unit).toBe(true);
        expect(up === down).toBe(exact % unit === 0n);
      }),
    );
  });

  it('keep a limit for Redis rounded down and at most 9 x 10^9, below 2^53 where Lua is exact (a larger one would wrap negative)', () => {
    expect(REDIS_MAX_LIMIT < 2n ** 53n).toBe(true);
    expect(redisLimit('12.3456789')).toBe(12_345_678n);
    expect(redisLimit('9000000000')).toBe(REDIS_MAX_LIMIT);
    expect(redisLimit('9000000000.000001')).toBe(REDIS_MAX_LIMIT);
    expect(redisLimit('99999999999999999999')).toBe(REDIS_MAX_LIMIT);
    expect(redisLimit('-5.0000001')).toBe(-5_000_001n);
    fc.assert(
      fc.property(decimal, (value) => {
        const kept = redisLimit(value);
        expect(kept <= REDIS_MAX_LIMIT && kept <= toScaledInteger(value, REDIS_SCALE, 'down')).toBe(true);
      }),
    );
  });

  it('round toward the strict side for negatives too', () => {
    expect(toScaledInteger('-1.0000001', 6, 'up')).toBe(-1000000n);
    expect(toScaledInteger('-1.0000001', 6, 'down')).toBe(-1000001n);
    expect(() => toScaledInteger('0.0000001', 6, 'exact')).toThrow(/decimal places/);
  });

  it('write a plain amount as decimal.js does (plainAmountText), and leave every other form to the full parser', () => {
    const digits = (min: number, max: number) => fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''));
    const plain = fc.tuple(digits(1, 15), fc.option(digits(1, EXACT_SCALE), { nil: undefined })).map(([w, f]) => (f === undefined ? w : `${w}.${f}`));
    fc.assert(
      fc.property(plain, (raw) => {
        expect(plainAmountText(raw)).toBe(parseDecimal(raw, 'amount', { maxDecimalPlaces: EXACT_SCALE }).toFixed());
      }),
    );
    for (const raw of ['', '.5', '5.', '-1', '+1', '1e3', ' 1', '1,5', '0x10', '1234567890123456', `0.${'1'.repeat(EXACT_SCALE + 1)}`]) {
      expect(plainAmountText(raw)).toBeNull();
    }
  });

  it('print integers of 10^-6 in doubles exactly as in BigInt (microText), beyond 2^53 too', () => {
    const safe = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
    const small = fc.integer({ min: -10_000_000, max: 10_000_000 });
    fc.assert(
      fc.property(fc.oneof(safe, small), (n) => {
        expect(microText(n)).toBe(fromScaledInteger(BigInt(n), REDIS_SCALE));
        expect(microText(n, String(n))).toBe(fromScaledInteger(BigInt(n), REDIS_SCALE));
      }),
    );
    for (const n of [0, 1, -1, 10, 100_000, 1_000_000, 1_000_001, -1_200_000, 12_500]) expect(microText(n)).toBe(fromScaledInteger(BigInt(n), REDIS_SCALE));
    // Past 2^53 the raw text is read exactly.
    expect(microText(Number('90071992547409931'), '90071992547409931')).toBe('90071992547.409931');
  });

  it('print back the same value', () => {
    fc.assert(
      fc.property(decimal, (value) => {
        const n = toScaledInteger(value, 18, 'exact');
        expect(toScaledInteger(fromScaledInteger(n, 18), 18, 'exact')).toBe(n);
      }),
    );
    expect(fromScaledInteger(1_500_000n, 6)).toBe('1.5');
    expect(fromScaledInteger(0n, 6)).toBe('0');
    expect(fromScaledInteger(-250_000n, 6)).toBe('-0.25');
  });
});

describe('decideHold', () => {
  const counter = (limit: bigint | null, spent = 0n, held = 0n): ScaledCounter => ({
    limitAmount: limit,
    limitTokens: null,
    spentAmount: spent,
    spentTokens: 0n,
    heldAmount: held,
    heldTokens: 0n,
  });

  it('allows what fits exactly and refuses one unit more, naming the level and by how much', () => {
    expect(decideHold([counter(100n, 30n, 20n)], { amount: 50n, tokens: 0n })).toEqual({ allowed: true });
    expect(decideHold([counter(null), counter(100n, 30n, 20n)], { amount: 51n, tokens: 0n })).toEqual({ allowed: false, index: 1, measure: 'amount', shortBy: 1n });
  });

  it('refuses even a zero estimate on a measure with nothing left', () => {
    expect(shortBy(0n, 0n)).toBe(0n);
    expect(shortBy(-5n, 0n)).toBe(5n);
    expect(shortBy(1n, 0n)).toBeNull();
    const tokensGone: ScaledCounter = { ...counter(null), limitTokens: 10n, spentTokens: 10n };
    expect(decideHold([tokensGone], { amount: 5n, tokens: 0n })).toMatchObject({ allowed: false, measure: 'tokens' });
  });

  it('never lets spent plus held pass a limit, whatever the sequence of holds, commits and releases', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('hold' as const), amount: fc.bigInt({ min: 1n, max: 40n }) }),
      fc.record({ op: fc.constant('commit' as const), pick: fc.nat(), fraction: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 200n }), fc.array(step, { maxLength: 60 }), (limit, steps) => {
        let c = counter(limit);
        const holds: bigint[] = [];
        for (const s of steps) {
          if (s.op === 'hold') {
            const d = decideHold([c], { amount: s.amount, tokens: 0n });
            expect(d.allowed).toBe(c.spentAmount + c.heldAmount + s.amount <= limit);
            if (d.allowed) {
              c = { ...c, heldAmount: c.heldAmount + s.amount };
              holds.push(s.amount);
            }
          } else if (holds.length > 0) {
            const [h] = holds.splice(s.pick % holds.length, 1);
            // An actual cost at most the hold replaces it: the rest is released.
            const actual = s.op === 'commit' ? (h! * BigInt(s.fraction)) / 100n : 0n;
            c = { ...c, heldAmount: c.heldAmount - h!, spentAmount: c.spentAmount + actual };
          }
          expect(c.spentAmount + c.heldAmount <= limit).toBe(true);
        }
      }),
    );
  });
});
