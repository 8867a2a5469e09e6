// `login` checks the key with the service, then stores the URL and key (mode 0600) so later commands need
// neither; `logout` forgets them.
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { apiClient, call } from '../api.js';
import type { Context } from '../context.js';
import { removeCredentials, storeCredentials } from '../credentials.js';
import { CliError, EXIT } from '../exit-codes.js';

async function firstLine(stream: NodeJS.ReadableStream): Promise<string> {
  const lines = createInterface({ input: stream, terminal: false });
  for await (const line of lines) {
    lines.close();
    return line.trim();
  }
  return '';
}

export function registerLogin(program: Command, ctx: Context): void {
  program
    .command('login')
    .description('store the service URL and an API key for the next commands (file mode 0600)')
    .requiredOption('--url <url>', 'the service, e.g. http://127.0.0.1:3000')
    .option('--key <key>', 'the API key (default: read one line from stdin, which keeps it out of the shell history)')
    .option('-a, --account <id>', 'the account commands read by default')
    .action(async (o: { url: string; key?: string; account?: string }) => {
      let url: URL;
      try {
        url = new URL(o.url);
      } catch {
        throw new CliError(EXIT.usage, `--url ${o.url} is not a URL`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(EXIT.usage, '--url must be http or https');
      const key = o.key ?? (await firstLine(ctx.io.stdin));
      if (key === '') throw new CliError(EXIT.usage, 'no key: give --key KEY or pipe it on stdin');
      const base = url.toString().replace(/\/+$/, '');
      // The service must know the key before anything is stored: a key that is mistyped, revoked or for
      // another service fails here, with the service's reason, not at the next command.
      let who;
      try {
        who = await call(base, apiClient(base, key).GET('/v1/api-keys/current'));
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        const why = error.exitCode === EXIT.refused ? `the service at ${base} refused the key: ${error.message}` : error.message;
        throw new CliError(error.exitCode, `login failed, nothing stored: ${why}`, error.body);
      }
      const file = storeCredentials(ctx.io.env, { url: base, key, ...(o.account ? { account: o.account } : {}) });
      const owner = [who.account, who.person_id ?? who.agent_id].filter((part) => part !== null).join(' · ');
      ctx.out(`logged in to ${base} with ${who.role} key "${who.name}"${owner ? ` (${owner})` : ''}; stored in ${file} (mode 0600)`);
    });

  program
    .command('logout')
    .description('forget the stored URL and key')
    .action(() => {
      const file = removeCredentials(ctx.io.env);
      ctx.out(file === null ? 'not logged in' : `removed ${file}`);
    });
}
