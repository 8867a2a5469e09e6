// The README's table of usage keys is rendered from the lists normalisation reads, so the two cannot drift.
// After changing a list: `UPDATE_README=1 npm test -- metering/usage/usage-shapes` rewrites the table.
import { readFileSync, writeFileSync } from 'node:fs';
import { normalizeUsage } from './normalize-usage.js';
import { USAGE_SHAPES, usageKeysMarkdown, type UsageKey, type UsageKeyList } from './usage-shapes.js';

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

  it('a part the list says is priced as a kind moves its tokens there; any other part moves nothing', () => {
    // Each part set to 7, one at a time, beside counts of 1000: the list and the parsers agree.
    for (const shape of USAGE_SHAPES) {
      if (shape.required.length === 0) continue;
      const base = Object.fromEntries(shape.required.map((k) => [k, 1000]));
      const plain = normalizeUsage(base, shape.format);
      if (!plain.ok) throw new Error(`${shape.format}: ${plain.message}`);
      const parts: [string, Record<string, unknown>, UsageKey][] = [];
      for (const [name, key] of Object.entries(shape.keys)) {
        if (key.role === 'part') parts.push([name, { [name]: 7 }, key]);
        // (A breakdown's parts are its count again, checked against it: normalize-usage.spec.ts.)
        if (key.pattern) continue;
        for (const [child, sub] of Object.entries(key.keys ?? {})) if (sub.role === 'part') parts.push([`${name}.${child}`, { [name]: { [child]: 7 } }, sub]);
      }
      for (const [path, payload, key] of parts) {
        const result = normalizeUsage({ ...base, ...payload }, shape.format);
        if (!result.ok) throw new Error(`${shape.format} ${path}: ${result.message}`);
        const moved = Object.fromEntries(Object.entries(result.usage).filter(([kind, n]) => n !== plain.usage[kind as keyof typeof plain.usage]));
        const expected = key.to === undefined ? {} : key.to === 'reasoning' ? { reasoning: 7 } : { [key.to]: 7, input: 993 };
        expect([shape.format, path, moved]).toEqual([shape.format, path, expected]);
      }
    }
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
