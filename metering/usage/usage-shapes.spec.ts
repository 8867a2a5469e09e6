// The README's table of usage keys is rendered from the lists normalisation reads, so the two cannot drift.
// After changing a list: `UPDATE_README=1 npm test -- metering/usage/usage-shapes` rewrites the table.
import { readFileSync, writeFileSync } from 'node:fs';
import { normalizeUsage } from './normalize-usage.js';
import { USAGE_SHAPES, usageKeysMarkdown, type UsageKeyList } from './usage-shapes.js';

const README = new URL('../../README.md', import.meta.url);
const START = '<!-- usage-keys:start (generated from metering/usage/usage-shapes.ts) -->';
const END = '<!-- usage-keys:end -->';

describe('usage key lists', () => {
  it('the README shows exactly the key lists of the code', () => {
    const readme = readFileSync(README, 'utf8');
    const start = readme.indexOf(START);
    const end = readme.indexOf(END);
    expect(start).toBeGreaterThan(-1);
    expect(end).toBeGreaterThan(start);
    const expected = `${START}\n${usageKeysMarkdown()}\n${END}`;
    const actual = readme.slice(start, end + END.length);
    if (actual !== expected && process.env.UPDATE_README === '1') {
      writeFileSync(README, readme.slice(0, start) + expected + readme.slice(end + END.length));
      return;
    }
    expect(actual).toBe(expected);
  });

  it('every key a list names is accepted in its shape and never named as ignored', () => {
    // Each listed key set to a value of its kind, one at a time, next to the required counts.
    const samples = (keys: UsageKeyList): Record<string, unknown> =>
      Object.fromEntries(
        Object.entries(keys).map(([k, key]) => [k, key.keys ? samples(key.keys) : key.role === 'not_tokens' ? 'x' : 0]),
      );
    for (const shape of USAGE_SHAPES) {
      const base = Object.fromEntries(shape.required.map((k) => [k, 100]));
      for (const [key, value] of Object.entries(samples(shape.keys))) {
        if (key === 'total_tokens' || shape.required.includes(key)) continue;
        const result = normalizeUsage({ ...base, [key]: value }, shape.format);
        expect([shape.format, key, result]).toEqual([shape.format, key, expect.objectContaining({ ok: true, ignored: [] })]);
      }
    }
  });
});
