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
  FIELD_FLAGS.set(command, { ...FIELD_FLAGS.get(command), ...fields });
  return command;
}

/** One option that fills one field of a request body. */
export interface BodyFlag {
  /** commander's flags, e.g. `--amount <amount>` (a flag without a value sends true) */
  flags: string;
  /** The body field it fills; a dotted path fills a nested object (`usage.input`). */
  field: string;
  description: string;
  /** Checks and converts the value: an InvalidArgumentError is exit 2, before anything is sent. */
  parse?: (value: string, previous: never) => unknown;
  choices?: readonly string[];
  required?: boolean;
  /** Anything else commander offers (`.conflicts(...)`, a default), on the option. */
  configure?: (option: Option) => Option;
}

/** The body the options of a command fill: each given option's value at its field, the others left out. */
export type BodyOf = (options: object) => Record<string, unknown>;

/**
 * Declares each flag once for both of its uses: the option itself, with its check, and the body field it
 * fills, which is also how a refusal of that field names the flag (sendsFields). Answers the function
 * that builds the body from the parsed options.
 */
export function bodyFlags(command: Command, flags: readonly BodyFlag[]): BodyOf {
  const fields: [attribute: string, field: string][] = [];
  for (const flag of flags) {
    let option = new Option(flag.flags, flag.description);
    if (flag.choices !== undefined) option = option.choices(flag.choices);
    if (flag.parse !== undefined) option = option.argParser(flag.parse as (value: string, previous: unknown) => unknown);
    if (flag.required) option = option.makeOptionMandatory();
    if (flag.configure !== undefined) option = flag.configure(option);
    command.addOption(option);
    fields.push([option.attributeName(), flag.field]);
    sendsFields(command, { [flag.field]: option.long! });
  }
  return (options) => {
    const body: Record<string, unknown> = {};
    for (const [attribute, field] of fields) {
      const value = (options as Record<string, unknown>)[attribute];
      if (value === undefined) continue;
      const path = field.split('.');
      let into = body;
      for (const key of path.slice(0, -1)) into = (into[key] ??= {}) as Record<string, unknown>;
      into[path.at(-1)!] = value;
    }
    return body;
  };
}

export const jsonOption = (command: Command): Command => command.option('--json', "print the service's JSON answer");

/**
 * The answer of a write that makes a secret (a key, a webhook endpoint's signing secret): the secret alone on
 * stdout, for a script to keep, and `line` on stderr; with --json the whole answer.
 */
export function showSecret(ctx: { out: (text: string) => void; err: (text: string) => void }, o: { json?: boolean }, answer: { secret: string }, line: string): void {
  if (o.json) ctx.out(JSON.stringify(answer, null, 2));
  else {
    ctx.out(answer.secret);
    ctx.err(line);
  }
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
