// The writes of `tokenmeter` for the org tree, caps, credits, invoices and webhook endpoints, as people run
// them: the built dist/cli/main.js as a child process against the built service started fresh (on a new
// database of DATABASE_URL when set, the embedded store otherwise), no mocked HTTP. For each command a
// success, its effect read back through the API, and a refusal: a usage error (exit 2) before anything is
// sent, or the service's refusal with its exit code and the flag that sent the refused field.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCliService, type CliRun } from './support/cli.js';
import { buildIfStale, type ServiceProcess } from './support/service-process.js';

type Run = CliRun;

/** The first day of last month, UTC: a subscription from then has an ended period to invoice. */
function lastMonthStart(): string {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 10);
}

describe('the tokenmeter CLI writes: org tree, caps, credits, invoices, webhook endpoints', () => {
  let service: ServiceProcess;
  let dir: string;
  let admin: string;
  let finance: string;
  let sales: string;
  let env: Record<string, string>;
  const suffix = randomBytes(3).toString('hex');
  const account = `writes-${suffix}`;

  /** Runs the CLI with the account set; `key` replaces the admin key. */
  function cli(args: string[], key = admin): Promise<Run> {
    return runCli(args, { ...env, TOKENMETER_KEY: key });
  }

  async function api(method: string, path: string, body?: unknown, key = admin): Promise<any> {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.status === 204 ? undefined : res.json();
  }

  /** A refusal of the service: its exit code, and the line ending with the flag that sent the field. */
  const refusedOn = (run: Run, code: number, field: string, flag: string) =>
    expect([run.code, run.stdout, run.stderr]).toEqual([code, '', expect.stringMatching(new RegExp(`field ${field}, HTTP \\d{3}\\); check ${flag}\\n$`))]);

  /** A usage error: exit 2, commander's line on stderr, nothing sent. */
  const usage = (run: Run, says: string) => expect([run.code, run.stdout, run.stderr]).toEqual([2, '', expect.stringContaining(says)]);

  beforeAll(async () => {
    buildIfStale();
    admin = `cli-writes-admin-${randomBytes(16).toString('hex')}`;
    service = await startCliService(admin, 'cliw', { TOKENMETER_WEBHOOK_ALLOW_PRIVATE: '127.0.0.1' });
    dir = mkdtempSync(join(tmpdir(), 'tokenmeter-cli-writes-'));
    env = { PATH: process.env.PATH!, HOME: dir, TOKENMETER_CONFIG: join(dir, 'config.json'), TOKENMETER_URL: service.url, TOKENMETER_ACCOUNT: account };
    sales = (await api('POST', '/v1/api-keys', { role: 'sales', name: 'sales' })).secret;
    await api('PUT', '/v1/plans/team', {
      name: 'Team',
      currency: 'EUR',
      base_fee: '49.00',
      included_allowance: '0',
      overage_policy: 'bill',
      topup_packs: [{ id: 'small', allowance: '25.00', price: '20.00', validity_days: 30 }],
    });
  }, 300_000);

  afterAll(async () => {
    await service?.stop();
    service?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('accounts create (admin): made as asked; a missing --name is exit 2; a currency the service refuses names --currency', async () => {
    const made = await cli(['accounts', 'create', account, '--name', 'Writes', '--currency', 'EUR', '--fiscal-year-start', '4']);
    expect(made).toEqual({ code: 0, stdout: `account ${account} (Writes) created, currency EUR\n`, stderr: '' });
    expect(await api('GET', `/v1/accounts/${account}`)).toMatchObject({ id: account, name: 'Writes', currency: 'EUR', fiscal_year_start_month: 4 });
    finance = (await api('POST', '/v1/api-keys', { role: 'finance', account, name: 'finance' })).secret;

    usage(await cli(['accounts', 'create', `other-${suffix}`, '--currency', 'EUR']), "required option '--name <name>' not specified");
    refusedOn(await cli(['accounts', 'create', `other-${suffix}`, '--name', 'Other', '--currency', 'EURO']), 6, 'currency', '--currency');
    // A finance key may not create accounts.
    expect((await cli(['accounts', 'create', `other-${suffix}`, '--name', 'Other', '--currency', 'EUR'], finance)).code).toBe(4);
    await expect(api('GET', `/v1/accounts/other-${suffix}`)).rejects.toThrow(/404/);
  }, 60_000);

  it('units, people and agents create (finance), people move, lists and deactivation', async () => {
    expect(await cli(['units', 'create', 'eng', '--name', 'Engineering', '--kind', 'department'], finance)).toEqual({
      code: 0,
      stdout: `department eng (Engineering) created under account ${account}\n`,
      stderr: '',
    });
    const team = await cli(['units', 'create', 'platform', '--name', 'Platform', '--kind', 'team', '--parent', 'eng', '--json'], finance);
    expect(team.code).toBe(0);
    expect(JSON.parse(team.stdout)).toMatchObject({ id: 'platform', kind: 'team', parent_id: 'eng' });
    expect((await cli(['units', 'create', 'web', '--name', 'Web', '--kind', 'team', '--parent', 'eng'], finance)).code).toBe(0);
    expect((await api('GET', `/v1/accounts/${account}/units`)).data.map((u: { id: string }) => u.id).sort()).toEqual(['eng', 'platform', 'web']);
    usage(await cli(['units', 'create', 'x', '--name', 'X', '--kind', 'squad'], finance), "option '--kind <kind>' argument 'squad' is invalid");
    refusedOn(await cli(['units', 'create', 'x', '--name', 'X', '--kind', 'team', '--parent', 'nowhere'], finance), 6, 'parent_id', '--parent');

    expect(await cli(['people', 'create', 'ada', '--name', 'Ada', '--unit', 'platform'], finance)).toEqual({ code: 0, stdout: 'person ada (Ada) created in unit platform\n', stderr: '' });
    expect(await api('GET', `/v1/accounts/${account}/people/ada`)).toMatchObject({ id: 'ada', unit_id: 'platform' });
    usage(await cli(['people', 'create', 'bob', '--name', 'Bob'], finance), "required option '--unit <unit>' not specified");
    refusedOn(await cli(['people', 'create', 'bob', '--name', 'Bob', '--unit', 'nowhere'], finance), 6, 'unit_id', '--unit');

    expect(await cli(['people', 'move', 'ada', '--unit', 'web'], finance)).toEqual({ code: 0, stdout: 'person ada (Ada) is now in unit web\n', stderr: '' });
    const ada = await api('GET', `/v1/accounts/${account}/people/ada`);
    expect(ada.unit_id).toBe('web');
    expect(ada.units.map((m: { unit_id: string }) => m.unit_id)).toEqual(expect.arrayContaining(['platform', 'web']));
    // A move dated before the last one is refused, naming the flag that dated it.
    refusedOn(await cli(['people', 'move', 'ada', '--unit', 'platform', '--effective-from', '2020-01-01T00:00:00Z'], finance), 6, 'effective_from', '--effective-from');
    usage(await cli(['people', 'move', 'ada'], finance), "required option '--unit <unit>' not specified");

    expect(await cli(['agents', 'create', 'bot', '--name', 'Bot', '--owner', 'ada'], finance)).toEqual({ code: 0, stdout: 'agent bot (Bot) created, owned by ada\n', stderr: '' });
    expect(await api('GET', `/v1/accounts/${account}/agents/bot`)).toMatchObject({ owner_person_id: 'ada', active: true });
    usage(await cli(['agents', 'create', 'bot2', '--name', 'Bot 2'], finance), "required option '--owner <person>' not specified");
    refusedOn(await cli(['agents', 'create', 'bot2', '--name', 'Bot 2', '--owner', 'nobody'], finance), 6, 'owner_person_id', '--owner');

    const units = await cli(['units', 'list', '--csv'], finance);
    expect(units.stdout.split('\r\n').map((l) => l.split(',').slice(0, 4))).toEqual([
      ['id', 'kind', 'name', 'parent'],
      ['eng', 'department', 'Engineering', ''],
      ['platform', 'team', 'Platform', 'eng'],
      ['web', 'team', 'Web', 'eng'],
    ]);
    expect((await cli(['people', 'list', '--unit', 'web'], finance)).stdout).toMatch(/^ID\s+NAME\s+UNIT\s+ACTIVE\s+CREATED AT\nada\s+Ada\s+web\s+true\s/);
    expect((await cli(['agents', 'list', '--owner', 'ada'], finance)).stdout).toMatch(/^ID\s+NAME\s+OWNER\s+ACTIVE\s+CREATED AT\nbot\s+Bot\s+ada\s+true\s/);

    expect((await cli(['agents', 'create', 'old', '--name', 'Old', '--owner', 'ada'], finance)).code).toBe(0);
    expect(await cli(['agents', 'deactivate', 'old'], finance)).toEqual({ code: 0, stdout: 'agent old deactivated\n', stderr: '' });
    expect(await api('GET', `/v1/accounts/${account}/agents/old`)).toMatchObject({ active: false });
    expect((await cli(['people', 'create', 'leaver', '--name', 'Leaver', '--unit', 'web'], finance)).code).toBe(0);
    expect(await cli(['people', 'deactivate', 'leaver'], finance)).toEqual({ code: 0, stdout: 'person leaver deactivated\n', stderr: '' });
    expect(await api('GET', `/v1/accounts/${account}/people/leaver`)).toMatchObject({ active: false });
  }, 120_000);

  it("caps: set an agent's and a session context's cap, list them, delete one; refusals", async () => {
    expect(await cli(['caps', 'set', 'agent:bot', '--amount', '12.50', '--tokens', '100000', '--period', 'quarter'], finance)).toEqual({
      code: 0,
      stdout: expect.stringMatching(/^cap agent:bot per quarter: amount 12\.50*, tokens 100,000\n$/),
      stderr: '',
    });
    const session = await cli(['caps', 'set', 'session:external', '--amount', '2', '--json'], finance);
    expect(session.code).toBe(0);
    expect(JSON.parse(session.stdout)).toMatchObject({ scope: 'session', session_context: 'external', token_limit: null });
    const caps = (await api('GET', `/v1/accounts/${account}/caps`)).data;
    expect(caps).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ scope: 'agent', agent_id: 'bot', period: 'quarter', amount_limit: expect.stringMatching(/^12\.50*$/), token_limit: 100000 }),
        expect.objectContaining({ scope: 'session', session_context: 'external' }),
      ]),
    );
    const table = await cli(['caps'], finance);
    expect(table.stdout).toMatch(/^CAP\s+PERIOD\s+AMOUNT LIMIT\s+TOKEN LIMIT\s+UPDATED AT\n/);
    expect(table.stdout).toMatch(/^agent:bot\s+quarter\s+12\.50*\s+100,000\s/m);

    usage(await cli(['caps', 'set', 'bot', '--amount', '1'], finance), 'expected agent:<id>, session:internal or session:external');
    usage(await cli(['caps', 'set', 'agent:bot', '--period', 'month'], finance), 'give --amount, --tokens or both');
    usage(await cli(['caps', 'set', 'agent:bot', '--amount', 'lots'], finance), 'expected a decimal such as 12.50');
    // A session cap has no period: the service refuses the field, and the line names the flag.
    refusedOn(await cli(['caps', 'set', 'session:internal', '--amount', '1', '--period', 'month'], finance), 6, 'period', '--period');
    expect((await cli(['caps', 'set', 'agent:bot', '--amount', '1'], sales)).code).toBe(4);

    expect(await cli(['caps', 'delete', 'session:external'], finance)).toEqual({ code: 0, stdout: 'cap session:external removed\n', stderr: '' });
    expect((await api('GET', `/v1/accounts/${account}/caps`)).data.map((c: { scope: string }) => c.scope)).toEqual(['agent']);
    usage(await cli(['caps', 'delete', 'session:everyone'], finance), 'expected agent:<id>, session:internal or session:external');
  }, 120_000);

  it('credits grant (sales) and topup (finance): each in the credits; refusals', async () => {
    await api('PUT', `/v1/accounts/${account}/subscription`, { plan_id: 'team', start_date: lastMonthStart(), billing_anchor_day: 1 });
    const grant = await cli(['credits', 'grant', '--amount', '15.00', '--priority', '5', '--validity-days', '30', '--reason', 'pilot', '--json'], sales);
    expect(grant.code).toBe(0);
    const granted = JSON.parse(grant.stdout);
    expect(granted).toMatchObject({ kind: 'promotional', priority: 5, reason: 'pilot', expires_at: expect.any(String) });
    const line = await cli(['credits', 'grant', '--amount', '1.00'], sales);
    expect(line).toMatchObject({ code: 0, stderr: '' });
    expect(line.stdout).toMatch(/^grant \S+: 1(\.00)? promotional, priority \d+, no expiry\n$/);

    usage(await cli(['credits', 'grant', '--amount', '1.00', '--expires-at', '2099-01-01T00:00:00Z', '--validity-days', '3'], sales), 'cannot be used with option');
    usage(await cli(['credits', 'grant', '--priority', '1'], sales), "required option '--amount <amount>' not specified");
    refusedOn(await cli(['credits', 'grant', '--amount', '1.00', '--expires-at', '2020-01-01T00:00:00Z'], sales), 6, 'expires_at', '--expires-at');
    expect((await cli(['credits', 'grant', '--amount', '1.00'], finance)).code).toBe(4);

    const topup = await cli(['credits', 'topup', '--id', 'tu-1', '--pack', 'small'], finance);
    expect(topup).toMatchObject({ code: 0, stderr: '' });
    expect(topup.stdout).toMatch(/^top-up tu-1: pack small for 20(\.00)? EUR, 25(\.00)? for 30 days, granted \(\S+\)\n$/);
    usage(await cli(['credits', 'topup', '--id', 'tu-2'], finance), "required option '--pack <pack>' not specified");
    refusedOn(await cli(['credits', 'topup', '--id', 'tu-2', '--pack', 'huge'], finance), 6, 'pack', '--pack');

    const credits = await api('GET', `/v1/accounts/${account}/credits`);
    expect(credits.grants).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: granted.id, kind: 'promotional', reason: 'pilot' }),
        expect.objectContaining({ kind: 'topup', topup_id: 'tu-1', amount: expect.stringMatching(/^25(\.0+)?$/) }),
      ]),
    );
  }, 120_000);

  it('invoices close, invoice finalize, pay and void; refusals', async () => {
    // Without a subscription there is nothing to close (409: exit 6).
    const other = `other-${suffix}`;
    await api('POST', '/v1/accounts', { id: other, name: 'Other', currency: 'EUR' });
    const nothing = await cli(['invoices', 'close', '--account', other]);
    expect([nothing.code, nothing.stderr]).toEqual([6, expect.stringContaining('no_subscription')]);

    // Last month has ended: closing it makes a draft (the grace period), finalized by hand, then paid.
    const closed = await cli(['invoices', 'close', '--json'], finance);
    expect(closed.code).toBe(0);
    const draft = JSON.parse(closed.stdout);
    expect(draft).toMatchObject({ status: 'draft', period_start: expect.stringContaining(lastMonthStart()) });
    const finalized = await cli(['invoice', 'finalize', draft.id], finance);
    expect(finalized).toMatchObject({ code: 0, stderr: '' });
    expect(finalized.stdout).toMatch(new RegExp(`^invoice ${draft.id} \\S+ \\(finalized\\) .*: total [\\d.]+ EUR\\n$`));
    expect((await cli(['invoice', 'pay', draft.id], finance)).code).toBe(4); // paying by hand is sales' or an admin's
    expect((await cli(['invoice', 'pay', draft.id], sales)).stdout).toContain('(paid)');
    expect(await api('GET', `/v1/invoices/${draft.id}`)).toMatchObject({ status: 'paid' });
    // A paid invoice cannot be voided.
    const notVoidable = await cli(['invoice', 'void', draft.id, '--reason', 'mistake'], sales);
    expect([notVoidable.code, notVoidable.stderr]).toEqual([6, expect.stringContaining('invoice_not_voidable')]);
    expect((await cli(['invoice', 'finalize', 'inv_000000000000000000000000'], finance)).code).toBe(5);
    usage(await cli(['invoice', 'void'], sales), "missing required argument 'id'");

    // Another account's ended month, finalized at once and voided.
    await api('PUT', `/v1/accounts/${other}/subscription`, { plan_id: 'team', start_date: lastMonthStart(), billing_anchor_day: 1 });
    const atOnce = JSON.parse((await cli(['invoices', 'close', '--account', other, '--finalize', '--json'])).stdout);
    expect(atOnce.status).toBe('finalized');
    const voided = await cli(['invoice', 'void', atOnce.id, '--reason', 'sent by mistake'], sales);
    expect(voided).toMatchObject({ code: 0, stderr: '' });
    expect(voided.stdout).toContain('(void');
    expect((await api('GET', `/v1/invoices/${atOnce.id}`)).status).toMatch(/^void/);
  }, 120_000);

  it('webhooks create (the secret once), list and delete; refusals', async () => {
    const made = await cli(['webhooks', 'create', '--url', 'http://127.0.0.1:9/hooks', '--event', 'invoice.finalized', '--event', 'invoice.paid', '--description', 'billing'], finance);
    expect(made.code).toBe(0);
    const secret = made.stdout.trim();
    expect(secret.length).toBeGreaterThan(10);
    expect(made.stderr).toMatch(new RegExp(`^webhook endpoint (\\S+) of ${account} created for invoice.finalized, invoice.paid; the signing secret above is shown only once\\n$`));
    const id = /^webhook endpoint (\S+)/.exec(made.stderr)![1]!;
    expect(await api('GET', `/v1/webhook-endpoints/${id}`, undefined, finance)).toMatchObject({ url: 'http://127.0.0.1:9/hooks', description: 'billing', enabled: true });

    // An admin names the account (here from TOKENMETER_ACCOUNT); --json prints the answer, secret included.
    const byAdmin = await cli(['webhooks', 'create', '--url', 'http://127.0.0.1:9/other', '--json']);
    expect(byAdmin.code).toBe(0);
    expect(JSON.parse(byAdmin.stdout)).toMatchObject({ account, secret: expect.any(String) });

    const list = await cli(['webhooks', 'list', '--json'], finance);
    expect(JSON.parse(list.stdout).data.map((e: { url: string }) => e.url).sort()).toEqual(['http://127.0.0.1:9/hooks', 'http://127.0.0.1:9/other']);
    expect(list.stdout).not.toContain(secret);
    expect((await cli(['webhooks', 'list'], finance)).stdout).toMatch(new RegExp(`^${id}\\s+${account}\\s+http://127.0.0.1:9/hooks\\s+invoice.finalized invoice.paid\\s+true\\s+billing\\s`, 'm'));

    usage(await cli(['webhooks', 'create', '--url', 'http://127.0.0.1:9/x', '--event', 'invoice.sent'], finance), "option '--event <type>' argument 'invoice.sent' is invalid");
    usage(await cli(['webhooks', 'create'], finance), "required option '--url <url>' not specified");
    refusedOn(await cli(['webhooks', 'create', '--url', 'ftp://127.0.0.1/x'], finance), 6, 'url', '--url');
    refusedOn(await cli(['webhooks', 'create', '--url', 'http://127.0.0.1:9/x', '--account', 'no-such-account']), 5, 'account', '--account');

    expect(await cli(['webhooks', 'delete', id], finance)).toEqual({ code: 0, stdout: `webhook endpoint ${id} deleted\n`, stderr: '' });
    expect((await api('GET', '/v1/webhook-endpoints', undefined, finance)).data.map((e: { id: string }) => e.id)).not.toContain(id);
    expect((await cli(['webhooks', 'delete', id], finance)).code).toBe(5);
  }, 120_000);

  it("caps tiers: the plan's tier caps this billing period, as a table and as the service's JSON", async () => {
    const other = `writes-tiers-${suffix}`;
    await api('POST', '/v1/accounts', { id: other, name: 'Tiers', currency: 'EUR' });
    await api('PUT', '/v1/plans/capped', { name: 'Capped', currency: 'EUR', base_fee: '1.00', included_allowance: '0', overage_policy: 'bill', tier_caps: { premier: 5000 } });
    expect(JSON.parse((await cli(['caps', 'tiers', '--account', other, '--json'])).stdout)).toEqual({ data: [] });
    await api('PUT', `/v1/accounts/${other}/subscription`, { plan_id: 'capped', start_date: lastMonthStart(), billing_anchor_day: 1 });
    const table = await cli(['caps', 'tiers', '--account', other]);
    expect(table.stdout).toMatch(/^TIER\s+PERIOD START\s+PERIOD END\s+TOKEN LIMIT\s+SPENT TOKENS\s+HELD TOKENS\s+LEFT TOKENS\n/);
    expect(table.stdout).toMatch(/^premier\s+\S+\s+\S+\s+5,000\s+0\s+0\s+5,000\n/m);
    const json = await cli(['caps', 'tiers', '--account', other, '--json']);
    expect(JSON.parse(json.stdout)).toEqual(await api('GET', `/v1/accounts/${other}/caps/tiers`));
  }, 120_000);
});
