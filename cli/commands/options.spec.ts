// Which flag sent an API field: what a refusal of that field is told as (program.ts).
import { Command } from 'commander';
import { flagForField, sendsFields } from './options.js';

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
