// The README's walkthrough is run as written: its shell blocks, in order, in one bash with `set -e` and
// `pipefail`, against the built service started fresh in an empty folder, then the examples of Budgets,
// Authorizations and Credits on the account it made. Any call that fails fails the test, so the README
// cannot drift from the API.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIfStale, repoRoot, ServiceProcess } from './support/service-process.js';

const WALKTHROUGH = '## From zero to a priced event';
/** Sections whose examples run right after the walkthrough, on its account and keys. */
const AFTER_WALKTHROUGH = ['## Budgets', '## Authorizations', '## Credits'];
const MARK = '== after the walkthrough ==';

/** The ```sh blocks of one README section, in order. */
export function shellBlocks(markdown: string, heading: string): string[] {
  const start = markdown.indexOf(`\n${heading}\n`);
  if (start === -1) throw new Error(`README has no "${heading}" section`);
  const rest = markdown.slice(start + heading.length + 2);
  const end = rest.search(/^## /m);
  const section = end === -1 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

describe('README walkthrough', () => {
  let service: ServiceProcess | undefined;
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const blocks = shellBlocks(readme, WALKTHROUGH);
  const billingBlocks = AFTER_WALKTHROUGH.flatMap((heading) => shellBlocks(readme, heading));

  beforeAll(async () => {
    buildIfStale();
    service = await ServiceProcess.start();
  }, 300_000);
  afterAll(async () => {
    await service?.stop();
    service?.remove();
  });

  it('calls the API only through curl that fails on an error status', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(6);
    expect(billingBlocks.length).toBe(AFTER_WALKTHROUGH.length);
    const curls = [...blocks, ...billingBlocks].flatMap((block) => block.split('\n')).filter((line) => /\bcurl\b/.test(line) && !line.trimStart().startsWith('#'));
    expect(curls).toEqual([expect.stringContaining('curl -sS --fail-with-body')]);
  });

  it('runs from zero to a priced event read back on the meter, in CSV and on the stream', () => {
    const script = ['set -euo pipefail', ...blocks, `echo '${MARK}'`, ...billingBlocks].join('\n');
    const run = spawnSync('bash', ['-c', script], {
      cwd: service!.dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(service!.port) },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect([run.status, output]).toEqual([0, expect.any(String)]);
    const [walkthrough, billing] = run.stdout.split(`${MARK}\n`) as [string, string];

    // The event was accepted and priced under the book the walkthrough published, with the allowance left.
    const answer = walkthrough.split('\n').find((line) => line.startsWith('{"results":'));
    const result = JSON.parse(answer!).results[0];
    expect(result).toMatchObject({ status: 'accepted', tier: 'specialized', needs_pricing: false });
    expect(result.tokens).toMatchObject({ input: 1000, cached_input: 200, output: 300, total: 1500 });
    // 1000 × 2.50 + 200 × 1.25 + 300 × 10.00 per million = 0.00575 EUR, out of 20.00 included.
    expect(Number(result.cost.total)).toBeCloseTo(0.00575, 10);
    expect(Number(result.reading.allowance_left)).toBeCloseTo(20 - 0.00575, 10);
    // The meter, the CSV listing and the stream each show it.
    expect(walkthrough).toMatch(/"model":"gpt-4o"/);
    expect(walkthrough).toMatch(/^id,.*\r?\nop-1,/m);
    expect(walkthrough).toContain('event: ready');
    // Last month closed: 49.00 base fee, the 20.00 included used up, 5.00 beyond it (6M input × 2.50 +
    // 1M output × 10.00 per million = 25.00), one invoice, finalized.
    const invoice = walkthrough
      .split('\n')
      .filter((line) => line.startsWith('{"id":"inv_'))
      .map((line) => JSON.parse(line) as { status: string; total: string; lines: { kind: string; amount: string }[] })[0];
    expect(invoice).toMatchObject({ status: 'finalized', total: '54.00' });
    expect(invoice!.lines.map((l) => [l.kind, l.amount])).toEqual([
      ['base_fee', '49.00'],
      ['allowance_used', '0.00'],
      ['overage', '5.00'],
    ]);
    // The open month's preview: this month's period, with its base fee.
    const upcoming = JSON.parse(walkthrough.split('\n').find((line) => line.startsWith('{"account":"acme"'))!) as { period_start: string; lines: { kind: string }[] };
    const today = new Date();
    expect(upcoming.period_start).toBe(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)).toISOString());
    expect(upcoming.lines[0]).toMatchObject({ kind: 'base_fee' });

    // The billing sections' examples, as written, on the walkthrough's account.
    const answers = billing.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, any>);
    const budget = answers.find((a) => a.node === 'unit:platform');
    expect(budget).toMatchObject({ period: { kind: 'quarter' }, headcount: 6, token_limit: 500000000, amount_limit: '1200', enforcement: 'hard' });
    expect(billing).toMatch(/^unit:platform,quarter,\S+,\S+,hard,6,1,1,1200,500000000,/m);
    // 12,000 input × 2.50 + 2,000 output × 10.00 per million: 0.05 held on the team's hard budget.
    const hold = answers.find((a) => 'allowed' in a);
    expect(hold).toMatchObject({ allowed: true, estimate: { amount: '0.05', tokens: 14000, source: 'usage' } });
    expect(hold!.levels.map((l: { level: string }) => l.level)).toEqual([expect.stringMatching(/^budget\/unit:platform\/quarter:/)]);
    expect(answers.find((a) => a.account === 'acme' && 'ledger' in a)).toMatchObject({ currency: 'EUR', overage_policy: 'bill' });
    expect(answers.find((a) => a.kind === 'promotional')).toMatchObject({ amount: '25', remaining: '25', reason: 'pilot' });
    expect(answers.find((a) => a.id === 'po-2026-117')).toMatchObject({ pack: 'large', allowance: '100', status: 'granted' });
    // The grant sent twice with one Idempotency-Key: one grant, named by both answers.
    expect(billing).toMatch(/^granted once: \S+$/m);
  }, 180_000);
});
