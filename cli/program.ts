// The `tokenmeter` command tree on commander (the most used Node argument parser, kept up to date, typed,
// with help for every command and subcommands without a framework's plugin machinery), and `run`, which
// turns whatever a command does into an exit code.
import { Command, CommanderError } from 'commander';
import { Context, type Io } from './context.js';
import { CliError, EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { registerBilling } from './commands/billing.js';
import { flagForField } from './commands/options.js';
import { registerLogin } from './commands/login.js';
import { registerOrg } from './commands/org.js';
import { registerRead } from './commands/read.js';
import { registerReport } from './commands/report.js';
import { registerTail } from './commands/tail.js';
import { registerWebhooks } from './commands/webhooks.js';
import { registerWrite } from './commands/write.js';

export const VERSION = '0.1.0';

export function buildProgram(ctx: Context, setExit: (code: number) => void): Command {
  const program = new Command('tokenmeter')
    .description('tokenmeter from the command line: read the meter, report events, and the writes your key may make')
    .version(VERSION)
    .exitOverride()
    // `budgets --account A` and `budgets set --account A` each read their own options.
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .configureOutput({ writeOut: (s) => ctx.io.stdout.write(s), writeErr: (s) => ctx.io.stderr.write(s) })
    .addHelpText(
      'after',
      `\nCredentials: tokenmeter login, or TOKENMETER_URL and TOKENMETER_KEY (and TOKENMETER_ACCOUNT).\n\n${EXIT_CODES_HELP}`,
    );
  registerLogin(program, ctx);
  registerRead(program, ctx);
  registerTail(program, ctx);
  registerReport(program, ctx, setExit);
  registerWrite(program, ctx, setExit);
  registerOrg(program, ctx);
  registerBilling(program, ctx);
  registerWebhooks(program, ctx);
  return program;
}

/** Whether the command line asks for --json (options end at `--`). */
function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

/** `; check --start` when the service refused a field this command sends from a flag of another name or its own. */
function flagHint(command: Command | null, body: unknown): string {
  const field = (body as { error?: { field?: unknown } } | undefined)?.error?.field;
  if (command === null || typeof field !== 'string') return '';
  const flag = flagForField(command, field);
  return flag === null ? '' : `; check ${flag}`;
}

/** Runs one command line (without `node` and the script) and answers the exit code. */
export async function run(argv: string[], io: Io): Promise<number> {
  const ctx = new Context(io);
  let exitCode: number = EXIT.ok;
  const program = buildProgram(ctx, (code) => (exitCode = code));
  // The command whose action runs: a refusal naming an API field is told as its flag.
  let acting: Command | null = null;
  program.hook('preAction', (_program, action) => {
    acting = action;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and --version end with 0; every parsing error is a usage error.
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (error instanceof CliError) {
      // A script that asked for JSON gets the service's error answer as it came (the line stays on stderr).
      if (error.body !== undefined && wantsJson(argv)) ctx.out(JSON.stringify(error.body, null, 2));
      ctx.err(`tokenmeter: ${error.message}${flagHint(acting, error.body)}`);
      return error.exitCode;
    }
    ctx.err(`tokenmeter: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT.failure;
  }
}
