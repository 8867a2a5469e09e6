// Which flag sent an API field: what a refusal of that field is told as (program.ts).
import { Command } from 'commander';
import { flagForField, sendsFields } from './options.js';

describe('flagForField', () => {
  const command = sendsFields(new Command('set').option('--start <date>').option('--session-id <id>').option('--tokens <n>'), {
    period_start: '--start',
    token_limit: '--tokens',
  });

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
});
