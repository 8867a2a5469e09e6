// Which flag sent an API field: what a refusal of that field is told as (program.ts); and bodyFlags, which
// declares a flag once for its option, its body field and that refusal.
import { Command } from 'commander';
import { bodyFlags, flagForField, positiveInteger, sendsFields } from './options.js';

describe('flagForField', () => {
  const parsed = (argv: string[]) => {
    const command = sendsFields(new Command('set').exitOverride().option('--start <date>').option('--session-id <id>').option('--tokens <n>'), {
      period_start: '--start',
      token_limit: '--tokens',
    });
    return command.parse(argv, { from: 'user' });
  };
  const command = parsed(['--start', '2026-02-30', '--session-id', 's1', '--tokens', '5']);

  it('names the flag a field is sent from under another name', () => {
    expect(flagForField(command, 'period_start')).toBe('--start');
    expect(flagForField(command, 'token_limit')).toBe('--tokens');
  });

  it('names the flag spelt like the field without an entry', () => {
    expect(flagForField(command, 'session_id')).toBe('--session-id');
  });

  it('names none for a field no flag of the command sends', () => {
    expect(flagForField(command, 'currency')).toBeNull();
    expect(flagForField(new Command('other'), 'period_start')).toBeNull();
  });

  it('names none for a flag not given on this command line (the value came from a file or a default)', () => {
    const bare = parsed(['--tokens', '5']);
    expect(flagForField(bare, 'period_start')).toBeNull();
    expect(flagForField(bare, 'session_id')).toBeNull();
    expect(flagForField(bare, 'token_limit')).toBe('--tokens');
  });
});

describe('bodyFlags', () => {
  const declare = () => {
    const command = new Command('caps').exitOverride().configureOutput({ writeErr: () => undefined });
    const bodyOf = bodyFlags(command, [
      { flags: '--amount <amount>', field: 'amount_limit', description: 'money' },
      { flags: '--tokens <n>', field: 'token_limit', description: 'tokens', parse: positiveInteger },
      { flags: '--input <n>', field: 'usage.input', description: 'input tokens', parse: positiveInteger },
      { flags: '--kind <kind>', field: 'kind', description: 'what', choices: ['a', 'b'], required: true },
      { flags: '--auto', field: 'estimate', description: 'a flag without a value' },
    ]);
    return { command, bodyOf };
  };

  it('fills each given flag at its field (nested for a dotted one), leaves the others out, and names the flag a refused field came from', () => {
    const { command, bodyOf } = declare();
    command.parse(['--amount', '1.50', '--input', '7', '--kind', 'a', '--auto'], { from: 'user' });
    expect(bodyOf(command.opts())).toEqual({ amount_limit: '1.50', usage: { input: 7 }, kind: 'a', estimate: true });
    expect(flagForField(command, 'amount_limit')).toBe('--amount');
    expect(flagForField(command, 'usage.input')).toBe('--input');
    expect(flagForField(command, 'token_limit')).toBeNull();
  });

  it('checks values and required flags as commander parses, before anything is built', () => {
    expect(() => declare().command.parse(['--kind', 'c'], { from: 'user' })).toThrow(/argument 'c' is invalid/);
    expect(() => declare().command.parse(['--kind', 'a', '--tokens', 'x'], { from: 'user' })).toThrow(/expected a whole number above 0/);
    expect(() => declare().command.parse([], { from: 'user' })).toThrow(/required option '--kind <kind>' not specified/);
  });
});
