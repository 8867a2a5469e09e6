// Options several commands share, declared once so their help reads the same everywhere.
import { InvalidArgumentError, Option, type Command } from 'commander';

export const CHANNELS = ['cli', 'mcp', 'chat', 'api', 'program'] as const;
export const LABELS = ['effective', 'ineffective', 'pending', 'unclassified'] as const;

const FIELD_FLAGS = new WeakMap<Command, Readonly<Record<string, string>>>();

/**
 * The API fields this command sends under another name (`period_start` from `--start`), so that the
 * service's refusal of a field names the flag the person typed (program.ts). A field named like its flag
 * (`session_id`, `--session-id`) needs no entry.
 */
export function sendsFields(command: Command, fields: Readonly<Record<string, string>>): Command {
  FIELD_FLAGS.set(command, fields);
  return command;
}

/**
 * This command's flag that sent the API's `field` on this command line, or null: a value that came from
 * elsewhere (a plan file, the service's default) was not typed as the flag, so naming it would mislead.
 */
export function flagForField(command: Command, field: string): string | null {
  const long = FIELD_FLAGS.get(command)?.[field] ?? `--${field.replace(/_/g, '-')}`;
  const option = command.options.find((o) => o.long === long);
  return option !== undefined && command.getOptionValueSource(option.attributeName()) === 'cli' ? long : null;
}

/** --json and --csv on a command whose output is data. */
export function dataOptions(command: Command): Command {
  return command
    .addOption(new Option('--json', 'print the service\'s JSON answer'))
    .addOption(new Option('--csv', 'print CSV (RFC 4180, a header line first)').conflicts('json'));
}

export function accountOption(command: Command): Command {
  return command.option('-a, --account <id>', 'the account (default: TOKENMETER_ACCOUNT or the one stored by login)');
}

/** The filters the meter and the events listing share. */
export function filterOptions(command: Command): Command {
  return command
    .option('--from <time>', 'start, RFC 3339 (default: start of this month, UTC)')
    .option('--to <time>', 'end, RFC 3339 (default: now)')
    .option('--person <id>', 'only this person')
    .option('--unit <id>', 'only this unit')
    .option('--agent <id>', 'only this agent')
    .option('--model <id>', 'only this model')
    .addOption(new Option('--channel <channel>', 'only this channel').choices(CHANNELS))
    .addOption(new Option('--label <label>', 'only this label').choices(LABELS));
}

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a whole number above 0');
  return n;
}

export function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number, 0 or more');
  return n;
}

export function decimalString(value: string): string {
  if (!/^\d+(\.\d+)?$/.test(value)) throw new InvalidArgumentError('expected a decimal such as 12.50');
  return value;
}

/** Options given as undefined are left out of a query or body. */
export function defined<T extends Record<string, unknown>>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
