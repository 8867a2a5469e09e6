// What every command runs with: the process's streams and environment (passed in, so tests and the entry
// point differ only here), the credentials in force and the typed client built from them.
import { answered, apiClient, call, type TokenmeterClient } from './api.js';
import { requireCredentials, type Credentials } from './credentials.js';
import { CliError, EXIT } from './exit-codes.js';
import { csv, formatOf, table, type Column } from './output.js';

export interface Io {
  env: Record<string, string | undefined>;
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  interrupt: AbortSignal;
}

export interface DataOptions {
  json?: boolean;
  csv?: boolean;
}

export class Context {
  private credentialsOnce: Credentials | undefined;
  private clientOnce: TokenmeterClient | undefined;

  constructor(readonly io: Io) {}

  out(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  err(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  get credentials(): Credentials {
    this.credentialsOnce ??= requireCredentials(this.io.env);
    return this.credentialsOnce;
  }

  get api(): TokenmeterClient {
    this.clientOnce ??= apiClient(this.credentials.url, this.credentials.key);
    return this.clientOnce;
  }

  /** A streaming client: no request timeout. */
  streamingApi(): TokenmeterClient {
    return apiClient(this.credentials.url, this.credentials.key, { timeoutMs: null });
  }

  call<D>(request: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<D> {
    return call(this.credentials.url, request);
  }

  /** As `call`, with the response too, for what an answer says in its headers. */
  answered<D>(request: Promise<{ data?: D; error?: unknown; response: Response }>): Promise<{ data: D; response: Response }> {
    return answered(this.credentials.url, request);
  }

  /** The account to read: --account, else TOKENMETER_ACCOUNT or the one `login` stored. */
  account(given: string | undefined): string {
    const account = given ?? this.credentials.account;
    if (!account) throw new CliError(EXIT.usage, 'no account: give --account ID (or store one with tokenmeter login --account ID)');
    return account;
  }

  /** Data as the options ask: the service's JSON as it came, CSV or a table of `rows`. */
  print<T>(options: DataOptions, json: unknown, rows: readonly T[], columns: readonly Column<T>[], footer?: string): void {
    const format = formatOf(options);
    if (format === 'json') this.out(JSON.stringify(json, null, 2));
    else if (format === 'csv') this.out(csv(rows, columns));
    else {
      this.out(rows.length === 0 ? '(none)' : table(rows, columns));
      if (footer !== undefined) this.out(footer);
    }
  }
}
