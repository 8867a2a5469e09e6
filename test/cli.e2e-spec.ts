// The `tokenmeter` CLI as people and scripts run it: the built dist/cli/main.js as a child process against
// the built service started fresh (on a new database of DATABASE_URL when set, the embedded store
// otherwise), no mocked HTTP. Each command's output, --json parsed, the exit codes a script relies on, and
// `report` killed mid-file and resumed with every event counted once. Then, on the service in this process
// with its clock injected and no settle job running by itself: `credits` while this period's allowance is
// still pending, and once it is granted; `invoice show --csv` of an invoice of an ended period.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { CreditsSettleService } from '../billing/credits/credits-settle.service.js';
import { buildProgram } from '../cli/program.js';
import { Context } from '../cli/context.js';
import { ManualClock } from '../src/clock/clock.js';
import { CLI, runCli, startCliService, type CliRun } from './support/cli.js';
import { buildIfStale, type ServiceProcess } from './support/service-process.js';
import { newKey, startListeningAppWithoutJobs, type TestApp } from './support/test-app.js';

type Run = CliRun;

describe('the tokenmeter CLI', () => {
  let service: ServiceProcess;
  let dir: string;
  let admin: string;
  let env: Record<string, string>;
  let agentKey = '';
  let memberKey = '';
  const account = `acme-${randomBytes(3).toString('hex')}`;

  /** Runs the CLI; `as` replaces the key (null: no credentials at all, only what `env` holds). */
  function cli(args: string[], options: { key?: string | null; stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
    const childEnv: Record<string, string> = { ...env, ...options.env };
    if (options.key === null) delete childEnv.TOKENMETER_KEY;
    else if (options.key !== undefined) childEnv.TOKENMETER_KEY = options.key;
    return runCli(args, childEnv, options.stdin);
  }

  async function api(method: string, path: string, body: unknown, key = admin): Promise<any> {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  }

  /** GET .../budgets, meter or events as CSV, as the API answers it for `Accept: text/csv`, with the events' next cursor. */
  async function apiCsvPage(path: string, key = admin): Promise<{ csv: string; next: string | null }> {
    const res = await fetch(`${service.url}/v1/accounts/${account}/${path}`, { headers: { authorization: `Bearer ${key}`, accept: 'text/csv' } });
    if (!res.ok) throw new Error(`GET ${path} as CSV: ${res.status} ${await res.text()}`);
    return { csv: await res.text(), next: res.headers.get('x-next-cursor') };
  }

  const apiCsv = async (path: string, key = admin) => (await apiCsvPage(path, key)).csv;

  const event = (id: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ id, timestamp: new Date(Date.now() - 60_000).toISOString(), operation: 'code.edit', channel: 'cli', model: 'gpt-4o', usage: { input: 100, output: 20 }, ...extra });

  async function meterCalls(): Promise<number> {
    const run = await cli(['meter', '--json'], { key: memberKey });
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout).totals.calls;
  }

  beforeAll(async () => {
    buildIfStale();
    admin = `cli-test-admin-${randomBytes(16).toString('hex')}`;
    service = await startCliService(admin, 'cli');
    dir = mkdtempSync(join(tmpdir(), 'tokenmeter-cli-'));
    env = { PATH: process.env.PATH!, HOME: dir, TOKENMETER_CONFIG: join(dir, 'config', 'config.json'), TOKENMETER_URL: service.url, TOKENMETER_KEY: admin };

    await api('POST', '/v1/accounts', { id: account, name: 'Acme', currency: 'EUR' });
    await api('POST', `/v1/accounts/${account}/units`, { id: 'platform', name: 'Platform', kind: 'team' });
    await api('POST', `/v1/accounts/${account}/people`, { id: 'ada', name: 'Ada', unit_id: 'platform' });
    await api('POST', `/v1/accounts/${account}/agents`, { id: 'bot', name: 'Bot', owner_person_id: 'ada' });
  }, 300_000);

  afterAll(async () => {
    await service?.stop();
    service?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has --help on every command, listing its options, and the exit codes at the top', () => {
    const written: string[] = [];
    const sink = { write: (s: string) => written.push(s) !== 0 } as unknown as NodeJS.WritableStream;
    const ctx = new Context({ env: {}, stdout: sink, stderr: sink, stdin: process.stdin, interrupt: new AbortController().signal });
    const program = buildProgram(ctx, () => {});
    const all = (c: Command): Command[] => [c, ...c.commands.flatMap(all)];
    const commands = all(program);
    expect(commands.map((c) => c.name())).toEqual(
      expect.arrayContaining([
        'login', 'meter', 'events', 'tail', 'unpriced-models', 'report', 'set', 'publish', 'rollback', 'subscribe', 'unsubscribe', 'create', 'list', 'revoke', 'authorize', 'release', 'close',
        'accounts', 'units', 'people', 'move', 'deactivate', 'agents', 'caps', 'delete', 'grant', 'topup', 'finalize', 'pay', 'void', 'webhooks',
      ]),
    );
    for (const command of commands) {
      expect([command.name(), command.description().length > 0]).toEqual([command.name(), true]);
      const help = command.helpInformation();
      expect(help).toContain('Usage: ');
      expect(help).toContain('-h, --help');
    }
    expect(program.helpInformation()).toContain('Commands:');
  });

  it('prints help as a child process too, with the exit codes', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Exit codes:');
    const sub = await cli(['plans', 'rollback', '--help']);
    expect(sub.code).toBe(0);
    expect(sub.stdout).toContain('Usage: tokenmeter plans rollback [options] <plan>');
  });

  it('login stores the URL and key with mode 0600; later commands need neither; no credentials is exit 3', async () => {
    const bare = { TOKENMETER_URL: '', TOKENMETER_KEY: '' };
    const none = await cli(['meter', '--account', account], { env: bare });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('not logged in');

    // The key from stdin keeps it out of the shell history.
    const login = await cli(['login', '--url', service.url, '--account', account], { env: bare, stdin: `${admin}\n` });
    expect([login.code, login.stderr]).toEqual([0, '']);
    const file = join(dir, 'config', 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ url: service.url, key: admin, account });
    const meter = await cli(['meter', '--json'], { env: bare });
    expect(meter.code).toBe(0);
    expect(JSON.parse(meter.stdout).totals.calls).toBe(0);

    expect(login.stdout).toMatch(/^logged in to .* with admin key ".*"; stored in .* \(mode 0600\)\n$/);

    // The key is checked with the service before anything is stored: a wrong key is exit 4 with the service's
    // reason, an unreachable service exit 7; either way the stored login is left as it was.
    const stored = readFileSync(file, 'utf8');
    const wrong = await cli(['login', '--url', service.url, '--key', 'tm_live_notakey_nope'], { env: bare });
    expect(wrong.code).toBe(4);
    expect(wrong.stderr).toMatch(/login failed, nothing stored: the service at http:\/\/127\.0\.0\.1:\d+ refused the key: .*\(invalid_api_key, HTTP 401\)/);
    expect(wrong.stdout).toBe('');
    const down = await cli(['login', '--url', 'http://127.0.0.1:1', '--key', admin], { env: bare });
    expect(down.code).toBe(7);
    expect(down.stderr).toMatch(/login failed, nothing stored: cannot reach the service at http:\/\/127\.0\.0\.1:1/);
    expect(readFileSync(file, 'utf8')).toBe(stored);

    // A member's key logs in as what it is.
    const adaKey = (await api('POST', '/v1/api-keys', { role: 'member', account, person_id: 'ada', name: 'ada login' })).secret;
    const member = await cli(['login', '--url', service.url, '--key', adaKey], { env: { ...bare, TOKENMETER_CONFIG: join(dir, 'member.json') } });
    expect([member.code, member.stdout]).toEqual([0, expect.stringMatching(new RegExp(`with member key ".*" \\(${account} · `))]);
  });

  it('sets up the catalog, a price book from YAML, a plan with versions and a rollback, a subscription and keys', async () => {
    const model = await cli(['models', 'set', 'gpt-4o', '--tier', 'specialized', '--provider', 'openai', '--alias', 'gpt-4o-2024-08-06']);
    expect(model).toEqual({ code: 0, stdout: 'model gpt-4o: tier specialized, provider openai, aliases gpt-4o-2024-08-06\n', stderr: '' });

    const yaml = join(dir, 'prices.yaml');
    const lastMonth = new Date(Date.now() - 40 * 86_400_000).toISOString();
    writeFileSync(
      yaml,
      `effective_from: "${lastMonth}"\ncorrection: true\nreason: prices from before the events\ntiers:\n` +
        '  base: { input: "0.15", output: "0.60" }\n  specialized: { input: "2.50", output: "10.00" }\n  premier: { input: "15.00", output: "60.00" }\n',
    );
    const book = await cli(['price-books', 'publish', yaml, '--json']);
    expect(book.code).toBe(0);
    expect(JSON.parse(book.stdout)).toMatchObject({ version: expect.any(Number), tiers: { specialized: { input: '2.50' } } });
    // The catalog and the books read back, oldest book first, the one just published last.
    const catalog = (await cli(['models', 'list', '--csv'])).stdout.trim().split('\r\n');
    expect([catalog[0], catalog.includes('gpt-4o,specialized,openai,gpt-4o-2024-08-06')]).toEqual(['model,tier,provider,aliases', true]);
    const books = (await cli(['price-books', 'list', '--json'])).stdout;
    const bookVersions = (JSON.parse(books) as { data: { version: number }[] }).data.map((b) => b.version);
    expect(bookVersions.at(-1)).toBe(JSON.parse(book.stdout).version);
    expect(bookVersions).toEqual([...bookVersions].sort((a, b) => a - b));

    expect((await cli(['plans', 'set', 'team', '--name', 'Team', '--currency', 'EUR', '--base-fee', '49.00', '--allowance', '20.00', '--overage', 'bill'])).stdout).toBe(
      'plan team version 1: base fee 49.00 EUR, allowance 20.00, overage bill\n',
    );
    const planFile = join(dir, 'plan.json');
    writeFileSync(planFile, JSON.stringify({ name: 'Team', currency: 'EUR', base_fee: '59.00', included_allowance: '20.00', overage_policy: 'bill' }));
    expect((await cli(['plans', 'set', 'team', planFile])).code).toBe(0);
    const rollback = await cli(['plans', 'rollback', 'team', '--to', '1', '--json']);
    expect(rollback.code).toBe(0);
    expect(JSON.parse(rollback.stdout)).toMatchObject({ plan_id: 'team', version: 3, rolled_back_from: 1, base_fee: '49.00' });
    const versions = await cli(['plans', 'versions', 'team', '--csv']);
    expect(versions.stdout.trim().split('\r\n').map((l) => l.split(',').slice(0, 4))).toEqual([
      ['version', 'name', 'currency', 'base_fee'],
      ['1', 'Team', 'EUR', '49.00'],
      ['2', 'Team', 'EUR', '59.00'],
      ['3', 'Team', 'EUR', '49.00'],
    ]);

    const sub = await cli(['subscribe', account, '--plan', 'team', '--json']);
    expect(sub.code).toBe(0);
    expect(JSON.parse(sub.stdout)).toMatchObject({ account_id: account, plan_id: 'team', effective_terms: { base_fee: '49.00' }, ends_at: null });
    // Cancelled at the end of the billing period, then subscribed again (which lifts it).
    const unsub = await cli(['unsubscribe', account]);
    expect(unsub.code).toBe(0);
    expect(unsub.stdout).toMatch(new RegExp(`^account ${account}: its subscription to team ends \\d{4}-\\d{2}-\\d{2}T00:00:00\\.000Z \\(billed to the end of that period, no later one\\)\n$`));
    expect(JSON.parse((await cli(['subscribe', account, '--plan', 'team', '--json'])).stdout)).toMatchObject({ ends_at: null });

    const agent = await cli(['keys', 'create', '--role', 'agent', '--account', account, '--agent', 'bot', '--name', 'runner']);
    expect(agent.code).toBe(0);
    agentKey = agent.stdout.trim();
    expect(agentKey).toMatch(/^tm_/);
    expect(agent.stderr).toContain('shown only once');
    const member = await cli(['keys', 'create', '--role', 'member', '--account', account, '--person', 'ada', '--name', 'laptop', '--json']);
    memberKey = JSON.parse(member.stdout).secret;
    expect(JSON.parse(member.stdout)).toMatchObject({ role: 'member', person_id: 'ada', account });
  });

  it('report sends JSON Lines, prints each rejection with its line number, and exits 8 when any was rejected', async () => {
    const lines = [event('r-1'), event('r-2'), '', '{not json', event('r-3', { usage: { input: -1, output: 2 } }), event('r-4', { model: 'mystery-model-9' })];
    const file = join(dir, 'some.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const run = await cli(['report', file, '--json'], { key: agentKey });
    expect(run.code).toBe(8);
    expect(run.stderr).toContain('line 4: invalid: not JSON');
    expect(run.stderr).toMatch(/line 5: rejected: \w+: .*\(field usage\.input\)/);
    expect(JSON.parse(run.stdout)).toMatchObject({ accepted: 3, duplicate: 0, rejected: 1, invalid: 1, lines: 6, sent: 4, complete: true });
    expect(existsSync(`${file}.tokenmeter-checkpoint`)).toBe(false);

    // Sent again, from stdin: nothing counts twice.
    const again = await cli(['report', '-', '--json'], { key: agentKey, stdin: `${lines.join('\n')}\n` });
    expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 0, duplicate: 3, rejected: 1, invalid: 1 });
    expect(await meterCalls()).toBe(3);

    const unpriced = await cli(['unpriced-models', '--json']);
    expect(JSON.parse(unpriced.stdout).data).toEqual(expect.arrayContaining([expect.objectContaining({ model: 'mystery-model-9', events: 1 })]));
    expect((await cli(['unpriced-models'])).stdout).toMatch(/^MODEL\s+EVENTS\s+ACCOUNTS/);
  });

  it('meter: a table, --json and --csv, grouped and filtered', async () => {
    const table = await cli(['meter', '--group-by', 'model,label'], { key: memberKey });
    expect(table.code).toBe(0);
    const [head, ...rows] = table.stdout.trim().split('\n');
    // r-4's mystery-model-9 is unpriced: its tokens get a column and the footer says the cost leaves them out.
    expect(head).toMatch(/^MODEL\s+LABEL\s+CALLS\s+INPUT\s+CACHED\s+OUTPUT\s+TOTAL\s+COST\s+UNPRICED TOKENS\s+EFFECTIVE RATIO$/);
    expect(rows.some((r) => /^gpt-4o\s/.test(r))).toBe(true);
    expect(rows.find((r) => r.startsWith('mystery-model-9 '))).toMatch(/\s0\.0+\s+120\s/);
    expect(rows.at(-1)).toMatch(/: 3 calls, .* tokens, cost [0-9.]+ \(not counting 120 tokens of unpriced models: see unpriced-models\), effective /);
    const pricedOnly = (await cli(['meter', '--group-by', 'model', '--model', 'gpt-4o'], { key: memberKey })).stdout;
    expect(pricedOnly).not.toMatch(/UNPRICED|not counting/);

    const json = JSON.parse((await cli(['meter', '--group-by', 'model', '--json'], { key: memberKey })).stdout);
    expect(json.group_by).toEqual(['model']);
    // --csv is the API's CSV for the same reading, byte for byte: a `key_<dim>` column per dimension, every token kind.
    const csv = await cli(['meter', '--group-by', 'model', '--csv', '--model', 'gpt-4o'], { key: memberKey });
    expect([csv.code, csv.stderr]).toEqual([0, '']);
    expect(csv.stdout).toBe(await apiCsv('meter?group_by=model&model=gpt-4o', memberKey));
    expect(csv.stdout.split('\r\n')).toEqual([
      'key_model,calls,tokens_input,tokens_cached_input,tokens_cache_write,tokens_output,tokens_reasoning,tokens_total,cost,unpriced_tokens,effective_ratio',
      expect.stringMatching(/^gpt-4o,2,200,0,0,40,0,240,/),
      '',
    ]);
    const byLabel = await cli(['meter', '--group-by', 'model,label', '--csv'], { key: memberKey });
    expect(byLabel.stdout).toBe(await apiCsv('meter?group_by=model,label', memberKey));
    expect(byLabel.stdout).toMatch(/^key_model,key_label,calls,/);
    const ungrouped = await cli(['meter', '--csv'], { key: memberKey });
    expect(ungrouped.stdout).toBe(await apiCsv('meter', memberKey));

    const both = await cli(['meter', '--json', '--csv'], { key: memberKey });
    expect(both.code).toBe(2);
  });

  it('events: paged with a cursor, --all, filters, --json and --csv', async () => {
    const page = await cli(['events', '--limit', '2', '--json'], { key: memberKey });
    const body = JSON.parse(page.stdout);
    expect(body.data).toHaveLength(2);
    expect(typeof body.next_cursor).toBe('string');
    const table = await cli(['events', '--limit', '2'], { key: memberKey });
    expect(table.stdout.split('\n')[0]).toMatch(/^TIMESTAMP\s+ID\s+OPERATION\s+MODEL/);
    expect(table.stderr).toContain(`--cursor ${body.next_cursor}`);
    const rest = JSON.parse((await cli(['events', '--limit', '2', '--cursor', body.next_cursor, '--json'], { key: memberKey })).stdout);
    expect(rest.data.map((e: any) => e.id)).not.toContain(body.data[0].id);

    // --csv is the API's CSV, byte for byte: one page, and the next page's cursor the API gave (x-next-cursor).
    const firstPage = await apiCsvPage('events?limit=2', memberKey);
    const pageCsv = await cli(['events', '--limit', '2', '--csv'], { key: memberKey });
    expect(pageCsv).toEqual({ code: 0, stdout: firstPage.csv, stderr: `next cursor: ${firstPage.next}\n` });
    expect(firstPage.csv.split('\r\n')[0]).toMatch(/^id,timestamp,received_at,person_id,agent_id,unit_id,.*,tokens_input,.*,cost_total,label,adjustment,metadata$/);
    // With --all, the pages make one file: one header line, then every row once, in the API's order (newest
    // first), as the whole listing in one page of the API is.
    const whole = await apiCsv('events?limit=1000', memberKey);
    expect(whole.split('\r\n').slice(1, -1).map((l) => l.split(',')[0]).sort()).toEqual(['r-1', 'r-2', 'r-4']);
    for (const limit of ['1', '2']) {
      const all = await cli(['events', '--limit', limit, '--all', '--csv'], { key: memberKey });
      expect(all).toEqual({ code: 0, stdout: whole, stderr: '' });
    }
    const filtered = JSON.parse((await cli(['events', '--model', 'gpt-4o', '--json'], { key: memberKey })).stdout);
    expect(filtered.data.map((e: any) => e.id).sort()).toEqual(['r-1', 'r-2']);
  });

  it('tail shows each operation as it happens with the running totals, until Ctrl-C (exit 0)', async () => {
    const child = spawn(process.execPath, [CLI, 'tail', '--json'], { env: { ...env, TOKENMETER_KEY: memberKey, TOKENMETER_ACCOUNT: account } });
    const lines: any[] = [];
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const complete = pending.split('\n');
      pending = complete.pop()!;
      lines.push(...complete.map((l) => JSON.parse(l)));
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const until = async (ok: () => boolean) => {
      for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(ok()).toBe(true);
    };
    await until(() => lines.length >= 1);
    expect(lines[0]).toMatchObject({ type: 'ready', totals: { calls: 3 } });
    expect((await cli(['report', '-'], { key: agentKey, stdin: `${event('t-1')}\n` })).code).toBe(0);
    await until(() => lines.length >= 2);
    expect(lines[1]).toMatchObject({ type: 'operation', event: { id: 't-1', operation: 'code.edit' }, totals: { calls: 4 } });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });

  it('authorize and release; a denial is exit 9; tasks close; keys revoke', async () => {
    const allowed = await cli(['authorize', '--amount', '0.50', '--operation', 'code.edit'], { key: agentKey });
    expect(allowed.code).toBe(0);
    const reservation = allowed.stdout.trim();
    expect(reservation.length).toBeGreaterThan(0);
    const released = await cli(['release', reservation, '--json'], { key: agentKey });
    expect(released.code).toBe(0);
    expect(JSON.parse(released.stdout)).toEqual({ reservation_id: reservation, status: 'released' });

    // Tokens by kind, priced at the model by the price book in force (gpt-4o: 2.50 input, 10.00 output per million).
    const byKind = await cli(['authorize', '--model', 'gpt-4o', '--input', '100000', '--output', '10000', '--json'], { key: agentKey });
    expect(byKind.code).toBe(0);
    expect(JSON.parse(byKind.stdout)).toMatchObject({ allowed: true, estimate: { amount: '0.35', tokens: 110_000 } });
    expect((await cli(['release', JSON.parse(byKind.stdout).reservation_id], { key: agentKey })).code).toBe(0);

    // An estimate the service does not take (tokens alone, two at once, tokens by kind without a model) is a
    // usage error, before anything is sent.
    for (const args of [['--tokens', '100'], ['--amount', '1.00', '--auto', '--model', 'gpt-4o'], ['--auto'], ['--input', '100'], ['--input', '100', '--amount', '1.00', '--model', 'gpt-4o']]) {
      const bad = await cli(['authorize', ...args], { key: agentKey });
      expect([bad.code, bad.stderr]).toEqual([
        2,
        expect.stringContaining('give --amount (with --tokens and --model if you like), or tokens by kind (--input, --output, ...) with --model, or --auto with --model'),
      ]);
    }

    await api('PUT', `/v1/accounts/${account}/caps/agents/bot`, { amount_limit: '1.00' });
    const denied = await cli(['authorize', '--amount', '5.00', '--json'], { key: agentKey });
    expect(denied.code).toBe(9);
    expect(JSON.parse(denied.stdout)).toMatchObject({ allowed: false });
    // Without --json, the denial is a sentence naming the level and how much the estimate is over, not raw JSON.
    const deniedText = await cli(['authorize', '--amount', '5.00'], { key: agentKey });
    expect(deniedText).toMatchObject({ code: 9, stdout: '' });
    expect(deniedText.stderr).toMatch(/^denied by agent\/bot\/month:\S+: the estimate of 5(\.00)? is [\d.]+ more than is left there\n$/);

    expect((await cli(['report', '-'], { key: agentKey, stdin: `${event('task-a1', { task_id: 'fix-login', attempt_id: 'a1', outcome: 'success' })}\n` })).code).toBe(0);
    const closed = await cli(['tasks', 'close', 'fix-login', '--status', 'succeeded', '--json'], { key: agentKey });
    expect(closed.code).toBe(0);
    expect(JSON.parse(closed.stdout)).toMatchObject({ task_id: 'fix-login', status: 'succeeded' });

    const spare = await cli(['keys', 'create', '--role', 'member', '--account', account, '--person', 'ada', '--name', 'spare', '--json']);
    const { id, secret } = JSON.parse(spare.stdout);
    expect((await cli(['meter'], { key: secret })).code).toBe(0);
    const revoked = await cli(['keys', 'revoke', id]);
    expect(revoked).toMatchObject({ code: 0, stdout: `key ${id} revoked\n` });
    expect((await cli(['meter'], { key: secret })).code).toBe(4);
    // keys list: the account's keys, the revoked one with its time; never a secret.
    const listed = await cli(['keys', 'list', '--account', account, '--json']);
    expect(listed.code).toBe(0);
    const keys = JSON.parse(listed.stdout).data as { id: string; name: string; revoked_at: string | null }[];
    expect(keys.find((k) => k.id === id)).toMatchObject({ name: 'spare', revoked_at: expect.any(String) });
    expect(listed.stdout).not.toContain(secret);
    const table = await cli(['keys', 'list', '--account', account]);
    expect(table.stdout).toMatch(/^ID\s+ROLE\s+ACCOUNT\s+PERSON\s+AGENT\s+NAME\s+CREATED AT\s+REVOKED AT\n/);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\s+member\\s+${account}\\s+ada\\s+spare\\s`, 'm'));
  });

  it('exits with codes a script can rely on: bad key 4, not allowed 4, unknown account 5, invalid 6, network down 7, usage 2', async () => {
    const badKey = await cli(['meter'], { key: 'tm_live_nope_nope' });
    expect(badKey.code).toBe(4);
    expect(badKey.stderr).toMatch(/^tokenmeter: .*HTTP 401\)\n$/);
    expect((await cli(['models', 'set', 'x', '--tier', 'base', '--provider', 'p'], { key: memberKey })).code).toBe(4);
    const unknown = await cli(['meter', '--account', 'no-such-account']);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toContain('HTTP 404');
    expect((await cli(['plans', 'rollback', 'no-such-plan', '--to', '1'])).code).toBe(5);
    const invalid = await cli(['plans', 'set', 'team', '--currency', 'EURO', '--base-fee', '1.00', '--allowance', '1.00', '--overage', 'bill']);
    expect(invalid.code).toBe(6);
    expect(invalid.stderr).toContain('HTTP 400');
    // The service names its field; the line also names the flag that sent it, under its own name or another.
    expect(invalid.stderr).toMatch(/field currency, HTTP 400\); check --currency\n$/);
    const badStart = await cli(['budgets', 'set', 'account', '--account', account, '--period', 'month', '--start', '2026-02-30', '--amount', '5']);
    expect(badStart.code).toBe(6);
    expect(badStart.stderr).toMatch(/field period_start, HTTP 400\); check --start\n$/);
    // With --json, a script also gets the service's error answer on stdout, as it came.
    const invalidJson = await cli(['plans', 'set', 'team', '--currency', 'EURO', '--base-fee', '1.00', '--allowance', '1.00', '--overage', 'bill', '--json']);
    expect(invalidJson.code).toBe(6);
    expect(JSON.parse(invalidJson.stdout)).toMatchObject({ error: { code: expect.any(String), field: 'currency', request_id: expect.any(String) } });
    expect(invalidJson.stderr).toContain('HTTP 400');
    const down = await cli(['meter'], { env: { TOKENMETER_URL: 'http://127.0.0.1:1' } });
    expect(down.code).toBe(7);
    expect(down.stderr).toContain('cannot reach the service at http://127.0.0.1:1');
    expect((await cli(['meter', '--no-such-option'])).code).toBe(2);
    expect((await cli(['no-such-command'])).code).toBe(2);
    expect((await cli(['tasks', 'close', 't', '--status', 'maybe'])).code).toBe(2);
    expect((await cli(['report', join(dir, 'missing.jsonl')], { key: agentKey })).code).toBe(2);
    // A key that may not report: running the same command again would be refused again, so it says what to do.
    const file = join(dir, 'refused.jsonl');
    writeFileSync(file, `${event('refused-1')}\n`);
    const refused = await cli(['report', file], { key: memberKey });
    expect(refused.code).toBe(4);
    expect(refused.stderr).toContain('stopped after line 0: the service refused a batch (below); fix that, then run the same command again to resume\n');
    expect(refused.stderr).toMatch(/HTTP 403\)\n$/);
  });

  it('report killed mid-file resumes from its checkpoint, and every event is counted exactly once', async () => {
    const before = await meterCalls();
    const total = 6000;
    const file = join(dir, 'big.jsonl');
    writeFileSync(file, `${Array.from({ length: total }, (_, i) => event(`big-${i + 1}`)).join('\n')}\n`);
    const checkpoint = `${file}.tokenmeter-checkpoint`;

    const child = spawn(process.execPath, [CLI, 'report', file, '--batch-size', '50', '--concurrency', '2'], { env: { ...env, TOKENMETER_KEY: agentKey } });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const progress = () => (existsSync(checkpoint) ? (JSON.parse(readFileSync(checkpoint, 'utf8')) as { line: number }).line : 0);
    for (let i = 0; i < 1200 && progress() < 200; i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    const stoppedAt = progress();
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeLessThan(total);

    const resumed = await cli(['report', file, '--json'], { key: agentKey });
    expect([resumed.code, resumed.stderr]).toEqual([0, `resuming after line ${stoppedAt} (checkpoint ${checkpoint})\n`]);
    const summary = JSON.parse(resumed.stdout);
    // This run sent the lines after the checkpoint; its counts cover the whole file, the first run's included.
    // The batches in flight at the kill were sent again: answered as duplicates, counted once.
    expect(summary.sent).toBe(total - stoppedAt);
    expect(summary.accepted + summary.duplicate).toBe(total);
    expect(summary).toMatchObject({ lines: total, rejected: 0, conflict: 0, complete: true });
    expect(existsSync(checkpoint)).toBe(false);
    expect(await meterCalls()).toBe(before + total);

    // Done means done: a second run with no checkpoint sends everything again, all duplicates.
    const again = await cli(['report', file, '--json', '--batch-size', '1000'], { key: agentKey });
    expect(JSON.parse(again.stdout)).toMatchObject({ accepted: 0, duplicate: total });
    expect(await meterCalls()).toBe(before + total);
  }, 120_000); // the embedded store ingests thousands of events, twice

  it('report stopped with Ctrl-C finishes the batches in flight, exits 130 and resumes', async () => {
    const before = await meterCalls();
    const total = 2000;
    const file = join(dir, 'ctrl-c.jsonl');
    writeFileSync(file, `${Array.from({ length: total }, (_, i) => event(`cc-${i + 1}`)).join('\n')}\n`);
    const checkpoint = `${file}.tokenmeter-checkpoint`;
    const child = spawn(process.execPath, [CLI, 'report', file, '--batch-size', '50', '--concurrency', '1'], { env: { ...env, TOKENMETER_KEY: agentKey } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 1200 && !existsSync(checkpoint); i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const line = (JSON.parse(readFileSync(checkpoint, 'utf8')) as { line: number }).line;
    expect(stderr).toContain(`interrupted after line ${line}; run the same command again to resume`);
    const resumed = JSON.parse((await cli(['report', file, '--json'], { key: agentKey })).stdout);
    // Nothing was in flight when it stopped: every line after the checkpoint is new.
    expect(resumed).toMatchObject({ sent: total - line, accepted: total, duplicate: 0, complete: true });
    expect(await meterCalls()).toBe(before + total);
  }, 120_000); // the embedded store ingests thousands of events, twice
  it('budgets: set down the tree, shown as a tree, transferred; credits; invoices', async () => {
    expect((await cli(['budgets', 'set', 'account', '--period', 'month', '--amount', '100.00', '--headcount', '5'])).code).toBe(0);
    const unit = await cli(['budgets', 'set', 'unit:platform', '--period', 'month', '--amount', '40.00', '--json']);
    expect(unit.code).toBe(0);
    expect(JSON.parse(unit.stdout)).toMatchObject({ node: 'unit:platform' });
    expect(Number(JSON.parse(unit.stdout).amount_limit)).toBe(40);
    const tree = await cli(['budgets']);
    expect(tree.code).toBe(0);
    const lines = tree.stdout.trim().split('\n');
    expect(lines[0]).toBe(`${account} (account)`);
    expect(lines[1]).toMatch(/^│ {2}month \S+ {2}heads 1\/5 {2}limit 100(\.00)? {2}spent /);
    expect(lines[2]).toBe('└─ unit:platform');
    expect(lines[3]).toMatch(/^ {6}month \S+ {2}heads 1 {2}limit 40(\.00)? {2}spent /);
    // --csv is the API's CSV: the same columns, in the same order, with the same values. The forecast
    // columns move with the clock (the burn rate is over the time elapsed), so they are compared apart.
    const csv = await cli(['budgets', '--csv']);
    expect([csv.code, csv.stderr]).toEqual([0, '']);
    const fromApi = await apiCsv('budgets');
    const [header, ...rows] = csv.stdout.split('\r\n');
    expect(header).toBe(fromApi.split('\r\n')[0]);
    expect(header).toBe(
      'node,period_kind,period_start,period_end,enforcement,headcount_allocated,people,agents,limit_amount,limit_tokens,spent_amount,spent_tokens,' +
        'held_amount,held_tokens,left_amount,left_tokens,effective_ratio,amount_per_head,tokens_per_head,burn_amount_per_day,burn_tokens_per_day,' +
        'forecast_amount_at_period_end,forecast_tokens_at_period_end,limit_reached_at',
    );
    const columns = header!.split(',');
    const moving = new Set(['burn_amount_per_day', 'burn_tokens_per_day', 'forecast_amount_at_period_end', 'forecast_tokens_at_period_end', 'limit_reached_at']);
    const steady = (text: string) => text.split('\r\n').slice(1).map((line) => line.split(',').filter((_cell, i) => !moving.has(columns[i]!)));
    expect(steady(csv.stdout)).toEqual(steady(fromApi));
    expect(rows.slice(0, -1).map((r) => r.split(',').slice(0, 2))).toEqual([
      ['account', 'month'],
      ['unit:platform', 'month'],
    ]);
    expect(rows.at(-1)).toBe(''); // CRLF after every row, the last one too

    const moved = await cli(['budgets', 'transfer', '--from', 'unit:platform', '--to', 'account', '--period', 'month', '--amount', '10.00', '--json']);
    expect(moved.code).toBe(0);
    const result = JSON.parse(moved.stdout);
    expect([Number(result.moved.amount), result.from.node, Number(result.from.amount_limit)]).toEqual([10, 'unit:platform', 30]);
    // More than the parent has is refused.
    expect((await cli(['budgets', 'set', 'unit:platform', '--period', 'month', '--amount', '500.00'])).code).toBe(6);
    // Next month's, allocated ahead (the account's fiscal months are calendar months), listed by its start.
    const now = new Date();
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
    expect((await cli(['budgets', 'set', 'account', '--period', 'month', '--start', nextMonth, '--amount', '120.00'])).code).toBe(0);
    const ahead = JSON.parse((await cli(['budgets', '--period', 'month', '--start', nextMonth, '--json'])).stdout);
    expect(ahead.data.map((b: { node: string; period: { start: string }; spent: { amount: string } }) => [b.node, b.period.start, b.spent.amount])).toEqual([['account', nextMonth, '0']]);
    expect((await cli(['budgets', '--start', nextMonth])).code).toBe(2);
    // A period to come spends nothing, so nothing moves: the two files are the same, byte for byte.
    const aheadCsv = await cli(['budgets', '--period', 'month', '--start', nextMonth, '--csv']);
    expect(aheadCsv.code).toBe(0);
    expect(aheadCsv.stdout).toBe(await apiCsv(`budgets?period=month&period_start=${nextMonth}`));
    expect(aheadCsv.stdout.split('\r\n')[1]).toMatch(new RegExp(`^account,month,${nextMonth},\\d{4}-\\d{2}-01,soft,,1,1,120(\\.0+)?,,0,0,0,0,120(\\.0+)?,,`));

    const credits = await cli(['credits', '--json']);
    expect(credits.code).toBe(0);
    const creditsJson = JSON.parse(credits.stdout);
    expect(creditsJson).toMatchObject({ account, currency: 'EUR' });
    const creditsText = await cli(['credits']);
    expect(creditsText.code).toBe(0);
    expect(creditsText.stdout).toContain(`balance ${creditsJson.balance} EUR, available ${creditsJson.available}`);
    const invoices = await cli(['invoices', '--json']);
    expect(invoices.code).toBe(0);
    expect(Array.isArray(JSON.parse(invoices.stdout).data)).toBe(true);
    // A well-formed id no invoice has is a 404; a malformed one a 400 (exit 6).
    expect((await cli(['invoice', 'show', 'inv_000000000000000000000000'])).code).toBe(5);
    expect((await cli(['invoice', 'show', 'nope'])).code).toBe(6);
  }, 120_000); // a dozen CLI processes, each a Node start
});

describe('the tokenmeter CLI on a service in this process: a period allowance still pending, an invoice of an ended period', () => {
  // The clock stands still, and no settle job runs by itself (with Redis the API consumes no jobs; the
  // database backend, which an API without Redis always consumes, stops taking them): the allowance stays
  // pending until the test settles the account, as the job would within a minute.
  const clock = new ManualClock('2026-04-20T14:00:00.000Z');
  let t: TestApp;
  let url: string;
  let dir: string;

  beforeAll(async () => {
    buildIfStale();
    ({ t, url } = await startListeningAppWithoutJobs(clock));
    dir = mkdtempSync(join(tmpdir(), 'tokenmeter-cli-'));
  }, 300_000);

  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('credits says this period’s allowance is pending, as the console does, then that it is granted', async () => {
    expect((await t.request('PUT', '/v1/plans/prepaid', { body: { name: 'Prepaid', currency: 'EUR', base_fee: '10.00', included_allowance: '1.00', overage_policy: 'block' } })).status).toBeLessThan(300);
    expect((await t.post('/v1/accounts', { id: 'initech', name: 'Initech', currency: 'EUR' })).status).toBe(201);
    expect((await t.request('PUT', '/v1/accounts/initech/subscription', { body: { plan_id: 'prepaid', start_date: '2026-01-01', billing_anchor_day: 1 } })).status).toBe(200);
    const finance = (await newKey(t, { role: 'finance', account: 'initech' })).secret;
    const env = { PATH: process.env.PATH!, HOME: dir, TOKENMETER_CONFIG: join(dir, 'config.json'), TOKENMETER_URL: url, TOKENMETER_KEY: finance, TOKENMETER_ACCOUNT: 'initech' };

    const pending = await runCli(['credits'], env);
    expect(pending).toEqual({
      code: 0,
      stdout: "(none)\nbalance 0 EUR, available 1, with this period's allowance of 1 EUR (pending: granted within a minute)\n",
      stderr: '',
    });
    expect(JSON.parse((await runCli(['credits', '--json'], env)).stdout)).toMatchObject({ pending_allowance: { amount: '1' } });

    // The job grants April's allowance: nothing is pending any more, the grant is listed.
    expect(await t.app.get(CreditsSettleService).settleAccount('initech', clock.now())).toMatchObject({ allowanceGranted: '1.00' });
    const granted = await runCli(['credits'], env);
    expect(granted.code).toBe(0);
    expect(granted.stdout).toMatch(/^ID\s+KIND\s+AMOUNT.*\n\S+\s+allowance\s+1(\.00)?\s/);
    expect(granted.stdout.split('\n').at(-2)).toMatch(/^balance 1(\.00)? EUR, available 1(\.00)?$/);
  }, 120_000);

  it('invoice show --csv prints the invoice CSV the API answers, byte for byte', async () => {
    expect((await t.request('PUT', '/v1/plans/team', { body: { name: 'Team', currency: 'EUR', base_fee: '49.00', included_allowance: '0', overage_policy: 'bill' } })).status).toBeLessThan(300);
    expect((await t.post('/v1/accounts', { id: 'globex', name: 'Globex', currency: 'EUR' })).status).toBe(201);
    expect((await t.request('PUT', '/v1/accounts/globex/subscription', { body: { plan_id: 'team', start_date: '2026-03-01', billing_anchor_day: 1 } })).status).toBe(200);
    const finance = (await newKey(t, { role: 'finance', account: 'globex' })).secret;
    // March has ended on the clock (20 April): closing it makes its invoice, finalized at once.
    const closed = await t.post('/v1/accounts/globex/invoices/close', { finalize: true }, finance);
    expect(closed.status).toBeLessThan(300);
    const id = (closed.body as { id: string }).id;
    const api = await fetch(`${url}/v1/invoices/${id}`, { headers: { authorization: `Bearer ${finance}`, accept: 'text/csv' } });
    expect(api.status).toBe(200);
    const csv = await api.text();
    expect(csv.split('\r\n')[0]).toMatch(/^invoice,number,/);
    expect(csv).toContain('49.00');
    const env = { PATH: process.env.PATH!, HOME: dir, TOKENMETER_CONFIG: join(dir, 'config.json'), TOKENMETER_URL: url, TOKENMETER_KEY: finance, TOKENMETER_ACCOUNT: 'globex' };
    expect(await runCli(['invoice', 'show', id, '--csv'], env)).toEqual({ code: 0, stdout: csv, stderr: '' });
    // The table is still the CLI's own: the invoice's line, its lines, its total.
    const table = await runCli(['invoice', 'show', id], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^invoice globex-20260301 \(finalized\) 2026-03-01T00:00:00\.000Z \.\. 2026-04-01T00:00:00\.000Z, plan team v1\n/);
    expect(table.stdout).toMatch(/total 49(\.00)? EUR\n$/);
  }, 120_000);
});
