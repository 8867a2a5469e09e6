// The command line's own checks, run in process: what a mistyped option value exits with and says, before
// anything is sent (no service is running here, so a command that got as far as a request would exit 3).
import { PassThrough } from 'node:stream';
import { run } from './program.js';

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await run(argv, { env: {}, stdout, stderr, stdin: new PassThrough(), interrupt: new AbortController().signal });
  return { code, stdout: out, stderr: err };
}

describe('tokenmeter option values', () => {
  it.each(
    [
    ['budgets', 'set', 'unit:platform', '--period', 'month', '--headcount', '1.5'],
    ['budgets', 'set', 'unit:platform', '--period', 'month', '--tokens', '12k'],
    ['budgets', 'transfer', '--from', 'unit:a', '--to', 'unit:b', '--period', 'month', '--headcount', 'two'],
    ['budgets', 'transfer', '--from', 'unit:a', '--to', 'unit:b', '--period', 'month', '--tokens', '-3'],
    ].map((argv) => [argv.join(' '), argv] as const),
  )('a count that is not a whole number is a usage error naming the option: %s', async (_line, argv) => {
    const option = argv[argv.length - 2]!;
    const run = await cli(argv);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`option '${option} <n>' argument '${argv[argv.length - 1]}' is invalid. expected a whole number`);
    expect(run.stdout).toBe('');
  });

  it('alert thresholds that are not whole percentages are a usage error', async () => {
    const run = await cli(['budgets', 'set', 'account', '--period', 'month', '--amount', '5', '--thresholds', '50,abc']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("option '--thresholds <list>' argument '50,abc' is invalid. expected whole percentages");
  });

  it('a bad amount is a usage error too', async () => {
    const run = await cli(['budgets', 'set', 'account', '--period', 'month', '--amount', '12,50']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("option '--amount <amount>' argument '12,50' is invalid");
  });
});
