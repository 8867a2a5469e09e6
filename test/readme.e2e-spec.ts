// The README's walkthrough is run as written: its shell blocks, in order, in one bash with `set -e` and
// `pipefail`, against the built service started fresh in an empty folder. Any call that fails fails
// the test, so the README cannot drift from the API.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildIfStale, repoRoot, ServiceProcess } from './support/service-process.js';

const WALKTHROUGH = '## From zero to a priced event';

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
  const blocks = shellBlocks(readFileSync(join(repoRoot, 'README.md'), 'utf8'), WALKTHROUGH);

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
    const curls = blocks.flatMap((block) => block.split('\n')).filter((line) => /\bcurl\b/.test(line) && !line.trimStart().startsWith('#'));
    expect(curls).toEqual([expect.stringContaining('curl -sS --fail-with-body')]);
  });

  it('runs from zero to a priced event read back on the meter, in CSV and on the stream', () => {
    const script = ['set -euo pipefail', ...blocks].join('\n');
    const run = spawnSync('bash', ['-c', script], {
      cwd: service!.dir,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(service!.port) },
      encoding: 'utf8',
      timeout: 120_000,
    });
    const output = `${run.stdout}\n${run.stderr}`;
    expect([run.status, output]).toEqual([0, expect.any(String)]);

    // The event was accepted and priced under the book the walkthrough published, with the allowance left.
    const answer = run.stdout.split('\n').find((line) => line.startsWith('{"results":'));
    const result = JSON.parse(answer!).results[0];
    expect(result).toMatchObject({ status: 'accepted', tier: 'specialized', needs_pricing: false });
    expect(result.tokens).toMatchObject({ input: 1000, cached_input: 200, output: 300, total: 1500 });
    // 1000 × 2.50 + 200 × 1.25 + 300 × 10.00 per million = 0.00575 EUR, out of 20.00 included.
    expect(Number(result.cost.total)).toBeCloseTo(0.00575, 10);
    expect(Number(result.reading.allowance_left)).toBeCloseTo(20 - 0.00575, 10);
    // The meter, the CSV listing and the stream each show it.
    expect(run.stdout).toMatch(/"model":"gpt-4o"/);
    expect(run.stdout).toMatch(/^id,.*\r?\nop-1,/m);
    expect(run.stdout).toContain('event: ready');
    // Last month closed: 49.00 base fee, the 20.00 included used up, 5.00 beyond it (6M input × 2.50 +
    // 1M output × 10.00 per million = 25.00), one invoice, finalized.
    const invoice = run.stdout
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
    const upcoming = JSON.parse(run.stdout.split('\n').find((line) => line.startsWith('{"account":"acme"'))!) as { period_start: string; lines: { kind: string }[] };
    const today = new Date();
    expect(upcoming.period_start).toBe(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1)).toISOString());
    expect(upcoming.lines[0]).toMatchObject({ kind: 'base_fee' });
  }, 180_000);
});
