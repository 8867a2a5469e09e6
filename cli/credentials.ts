// Where the CLI finds the service and its key: TOKENMETER_URL / TOKENMETER_KEY / TOKENMETER_ACCOUNT when set,
// else the file `tokenmeter login` wrote ($TOKENMETER_CONFIG, else $XDG_CONFIG_HOME/tokenmeter/config.json,
// else ~/.config/tokenmeter/config.json), created with mode 0600 because it holds a secret.
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError, EXIT } from './exit-codes.js';

export interface Credentials {
  url: string;
  key: string;
  /** The account commands read when none is given (member and finance keys belong to one). */
  account?: string;
}

type Env = Record<string, string | undefined>;

export function configPath(env: Env): string {
  if (env.TOKENMETER_CONFIG) return env.TOKENMETER_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'tokenmeter', 'config.json');
}

export function readStored(env: Env): Partial<Credentials> {
  const file = configPath(env);
  if (!existsSync(file)) return {};
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
    return typeof parsed === 'object' && parsed !== null ? parsed : {};
  } catch {
    throw new CliError(EXIT.failure, `${file} is not valid JSON; run tokenmeter login again`);
  }
}

/** The credentials in force: each of the variables wins over the stored file. */
export function resolveCredentials(env: Env): Partial<Credentials> {
  const stored = readStored(env);
  return {
    url: env.TOKENMETER_URL || stored.url,
    key: env.TOKENMETER_KEY || stored.key,
    account: env.TOKENMETER_ACCOUNT || stored.account,
  };
}

export function requireCredentials(env: Env): Credentials {
  const found = resolveCredentials(env);
  if (!found.url || !found.key) {
    throw new CliError(EXIT.notLoggedIn, 'not logged in: run `tokenmeter login --url URL --key KEY` or set TOKENMETER_URL and TOKENMETER_KEY');
  }
  return { url: found.url, key: found.key, account: found.account };
}

export function storeCredentials(env: Env, credentials: Credentials): string {
  const file = configPath(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(credentials, null, 2)}\n`, { mode: 0o600 });
  // writeFileSync keeps the mode of a file that already existed.
  chmodSync(file, 0o600);
  return file;
}

export function removeCredentials(env: Env): string | null {
  const file = configPath(env);
  if (!existsSync(file)) return null;
  rmSync(file);
  return file;
}
