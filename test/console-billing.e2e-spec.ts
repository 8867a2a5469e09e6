// The console's billing pages in a real browser (Debian's Chromium through playwright-core) against the
// built service started as an operator runs it. An account subscribed since the first of last month has
// last month's usage reported and its period closed, so a real invoice exists: finance reads it, its lines
// and the usage behind them, and opens (and prints) its printable page; finance buys a top-up and sales
// adds a promotional grant through the credit forms; a member opening either page sees the API's refusal.
// Then, on the service in this process with its clock injected: a `block` plan's period allowance the
// settle job has not granted yet, which the credits page says is pending, until it is granted.
import type { Browser, Page } from 'playwright-core';
import { CreditsSettleService } from '../billing/credits/credits-settle.service.js';
import { ManualClock } from '../src/clock/clock.js';
import { expectText, launchChromium, routeBuiltConsole, screenshots, serviceApi, signInConsole, startConsoleService } from './support/browser.js';
import type { ServiceProcess } from './support/service-process.js';
import { newKey, startListeningAppWithoutJobs, type TestApp } from './support/test-app.js';

describe('web console: invoices and credits in Chromium', () => {
  let service: ServiceProcess;
  let browser: Browser;
  const keys: Record<'member' | 'agent' | 'sales' | 'finance', string> = { member: '', agent: '', sales: '', finance: '' };
  let invoice: { id: string; number: string; total: string; lines: { kind: string; amount: string; usage: unknown[] }[] };

  /** The API as the tests' own client (set once the service is up). */
  let api: ReturnType<typeof serviceApi>;

  const signIn = (page: Page, key: string, hash: string) => signInConsole(page, service, key, hash);

  beforeAll(async () => {
    service = await startConsoleService('console_billing');
    api = serviceApi(service);
    browser = await launchChromium();

    const admin = service.adminKey;
    await api('POST', '/v1/accounts', admin, { id: 'globex', name: 'Globex', currency: 'EUR' });
    await api('POST', '/v1/accounts/globex/units', admin, { id: 'research', name: 'Research', kind: 'team' });
    await api('POST', '/v1/accounts/globex/people', admin, { id: 'hank', name: 'Hank Scorpio', unit_id: 'research' });
    await api('POST', '/v1/accounts/globex/agents', admin, { id: 'hank-bot', name: 'Research agent', owner_person_id: 'hank' });
    keys.member = (await api('POST', '/v1/api-keys', admin, { role: 'member', account: 'globex', person_id: 'hank', name: 'hank' })).secret;
    keys.agent = (await api('POST', '/v1/api-keys', admin, { role: 'agent', account: 'globex', agent_id: 'hank-bot', name: 'agent' })).secret;
    keys.sales = (await api('POST', '/v1/api-keys', admin, { role: 'sales', name: 'sales desk' })).secret;
    keys.finance = (await api('POST', '/v1/api-keys', admin, { role: 'finance', account: 'globex', name: 'finance desk' })).secret;

    // Last month, priced: the price book is a correction in force since before it.
    const now = new Date();
    const lastMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
    const day = (d: number, h: number) => new Date(Date.UTC(lastMonth.getUTCFullYear(), lastMonth.getUTCMonth(), d, h)).toISOString();
    await api('PUT', '/v1/models/gpt-4o', admin, { tier: 'specialized', provider: 'openai' });
    await api('POST', '/v1/price-books', admin, {
      effective_from: new Date(Date.UTC(lastMonth.getUTCFullYear(), lastMonth.getUTCMonth() - 1, 1)).toISOString(),
      correction: true,
      reason: 'prices of the console billing test',
      tiers: {
        base: { input: '0.15', output: '0.60' },
        specialized: { input: '2.50', output: '10.00' },
        premier: { input: '15.00', output: '60.00' },
      },
    });
    await api('PUT', '/v1/plans/business', admin, {
      name: 'Business',
      currency: 'EUR',
      base_fee: '49.00',
      included_allowance: '1.00',
      overage_policy: 'bill',
      topup_packs: [{ id: 'small', allowance: '50.00', price: '45.00', validity_days: 90 }],
    });
    await api('PUT', '/v1/accounts/globex/subscription', admin, { plan_id: 'business', start_date: lastMonth.toISOString().slice(0, 10), billing_anchor_day: 1 });
    // Two operations of 400,000 input and 100,000 output tokens at 2.50 / 10.00 per million: 2.00 EUR each.
    const answer = await api<{ results: { status: string }[] }>('POST', '/v1/events', keys.agent, {
      events: [1, 2].map((n) => ({
        id: `billing-op-${n}`,
        timestamp: day(10, 9 + n),
        operation: 'research.summarise',
        channel: 'cli',
        model: 'gpt-4o-2024-08-06',
        task_id: `task-${n}`,
        attempt_id: 'a1',
        outcome: 'success',
        usage: { prompt_tokens: 400_000, completion_tokens: 100_000 },
      })),
    });
    expect(answer.results.map((r) => r.status)).toEqual(['accepted', 'accepted']);
    invoice = await api('POST', '/v1/accounts/globex/invoices/close', keys.finance, { finalize: true });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    service?.remove();
  });

  it('the seeded invoice bills last month: the base fee, the allowance and 3.00 EUR of overage', () => {
    // The page below is checked against this invoice, worked out here by hand.
    expect(invoice.total).toMatch(/^52\.00?0?$/);
    const amounts = Object.fromEntries(invoice.lines.map((l) => [l.kind, l.amount]));
    expect(amounts).toMatchObject({ base_fee: expect.stringMatching(/^49\.00?$/), overage: expect.stringMatching(/^3\.00?$/) });
  });

  it('finance reads the invoices, an invoice with its lines and their usage, and opens the printable view', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, keys.finance, 'invoices');
      const list = page.getByTestId('invoices');
      await expectText(list, new RegExp(`${invoice.number}.*finalized.*52\\.00.*EUR`));
      await expectText(page.getByTestId('upcoming'), /Upcoming invoice.*Base fee/);
      await screenshots(page, 'invoices');

      // Keyboard: the invoice's number is a link, reached with Tab and opened with Enter.
      const link = page.getByRole('link', { name: new RegExp(`^Invoice ${invoice.number}`) });
      await link.focus();
      await page.keyboard.press('Enter');
      const detail = page.getByTestId('invoice');
      await expectText(detail.getByRole('heading', { level: 2 }), new RegExp(`^Invoice ${invoice.number}$`));
      expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe('invoice-heading');
      await expectText(page.getByTestId('invoice-state'), /^finalized$/);
      await expectText(page.getByTestId('invoice-total'), /^52\.00 EUR$/);
      const lines = page.getByRole('region', { name: `Lines of invoice ${invoice.number}` });
      const overage = lines.getByRole('row').filter({ hasText: 'Overage' });
      await expectText(overage, /Overage.*this period.*3\.00 EUR/);
      // The usage behind the overage line: the model and its tokens (1,000,000 over the two operations).
      const summary = overage.locator('summary');
      // Lines are numbered from 1 (the API's `n` is from 0), and the usage names its line by that number.
      await expectText(lines.locator('tbody tr').first().locator('td').first(), /^1$/);
      const number = (await overage.locator('td').first().textContent())!.trim();
      expect(Number(number)).toBeGreaterThan(1);
      await expectText(summary, new RegExp(`^Usage behind line ${number} \\(1 row\\)$`));
      await summary.focus();
      await page.keyboard.press('Enter');
      expect(await overage.locator('details').getAttribute('open')).not.toBeNull();
      await expectText(overage.locator('details table'), /specialized.*gpt-4o.*2.*1,000,000.*4\.00/);
      await screenshots(page, 'invoice');

      // The printable view the API serves, opened from the page in a tab of its own, and printed.
      const opened = page.context().waitForEvent('page');
      await page.getByRole('link', { name: /^Printable view/ }).click();
      const printable = await opened;
      await printable.waitForLoadState();
      await expectText(printable.locator('body'), new RegExp(`${invoice.number}[\\s\\S]*Globex[\\s\\S]*52\\.00`));
      const pdf = await printable.pdf({ format: 'A4' });
      expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      await printable.close();
    } finally {
      await page.close();
    }
  }, 120_000);

  it('finance buys a top-up through the form and sees its grant; sales adds a promotional grant', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, keys.finance, 'credits');
      const form = page.getByRole('form', { name: 'Buy a top-up' });
      const before = (await api('GET', '/v1/accounts/globex/credits', keys.finance)).grants.length;

      // Nothing chosen: refused in the form, nothing sent.
      await form.getByRole('button', { name: 'Buy top-up' }).click();
      await expectText(form.getByRole('alert'), /Fix the marked fields/);
      expect(await form.getByLabel('Pack').getAttribute('aria-invalid')).toBe('true');
      expect((await api('GET', '/v1/accounts/globex/credits', keys.finance)).grants.length).toBe(before);

      await form.getByLabel('Pack').selectOption('small');
      await form.getByLabel('Purchase id').fill('po-2026-117');
      await form.getByRole('button', { name: 'Buy top-up' }).click();
      await expectText(page.getByTestId('topup-message'), /^Bought small \(po-2026-117\): 50\.00 EUR granted\.$/);
      await expectText(page.getByTestId('grants').locator('tr', { hasText: 'po-2026-117' }), /topup.*top-up po-2026-117.*50\.00 EUR.*50\.00/);
      const credits = await api('GET', '/v1/accounts/globex/credits', keys.finance);
      expect(credits.grants.find((g: { topup_id: string | null }) => g.topup_id === 'po-2026-117')).toMatchObject({ kind: 'topup', amount: expect.stringMatching(/^50(\.0+)?$/) });
      await expectText(page.getByTestId('entries'), /grant/);
      // Finance may not give credit away: the promotional form is not offered.
      expect(await page.getByRole('form', { name: 'Add a promotional grant' }).count()).toBe(0);
      await screenshots(page, 'credits');
    } finally {
      await page.close();
    }

    const sales = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(sales, keys.sales, 'credits');
      // An operator picks the account first, and is told so for this page (it said "to read its meter" on every page).
      await expectText(sales.getByTestId('choose-account'), /^Choose an account above to read its credits\.$/);
      await sales.getByLabel('Account').selectOption('globex');
      const form = sales.getByRole('form', { name: 'Add a promotional grant' });
      await form.getByLabel('Amount').fill('12.5.0');
      await form.getByRole('button', { name: 'Add grant' }).click();
      expect(await form.getByLabel('Amount').getAttribute('aria-invalid')).toBe('true');
      await form.getByLabel('Amount').fill('12.50');
      await form.getByLabel('Priority').fill('5');
      await form.getByLabel('Valid for (days)').fill('30');
      await form.getByLabel('Reason').fill('launch promotion');
      await form.getByRole('button', { name: 'Add grant' }).click();
      await expectText(sales.getByTestId('grant-message'), /^Granted 12\.50? \(priority 5, expires /);
      await expectText(sales.getByTestId('grants').locator('tr', { hasText: 'launch promotion' }), /promotional.*5.*12\.50 EUR.*12\.50/);
      const grants = (await api('GET', '/v1/accounts/globex/credits', keys.sales)).grants;
      expect(grants.find((g: { reason: string | null }) => g.reason === 'launch promotion')).toMatchObject({ kind: 'promotional', priority: 5, amount: expect.stringMatching(/^12\.50*$/) });

      // A double click sends the form twice, with one Idempotency-Key: one grant.
      await form.getByLabel('Amount').fill('3.00');
      await form.getByLabel('Reason').fill('double click');
      const posts: string[] = [];
      sales.on('request', (r) => void (r.method() === 'POST' && r.url().endsWith('/credits/grants') && posts.push(r.headers()['idempotency-key'] ?? '')));
      await form.getByRole('button', { name: 'Add grant' }).dblclick();
      await expectText(sales.getByTestId('grants').locator('tr', { hasText: 'double click' }), /promotional/);
      await sales.waitForLoadState('networkidle');
      expect(posts.length).toBeGreaterThanOrEqual(2);
      expect(new Set(posts).size).toBe(1);
      const doubled = (await api('GET', '/v1/accounts/globex/credits', keys.sales)).grants.filter((g: { reason: string | null }) => g.reason === 'double click');
      expect(doubled).toHaveLength(1);
    } finally {
      await sales.close();
    }
  }, 120_000);

  it('a member opening the invoices or the credits sees the API’s refusal, and neither page is offered', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await signIn(page, keys.member, 'invoices');
      await expectText(page.getByTestId('refusal'), /This key may not read invoices\..*This is a member key\..*403 forbidden/);
      expect(await page.getByTestId('invoices').count()).toBe(0);
      expect(await page.getByRole('link', { name: 'Invoices' }).count()).toBe(0);
      await screenshots(page, 'invoices-refused');

      await page.goto(`${service.url}/console/#/credits`);
      await expectText(page.getByTestId('refusal'), /This key may not read the credits\..*This is a member key\./);
      expect(await page.getByTestId('grants').count()).toBe(0);
      expect(await page.getByRole('link', { name: 'Credits' }).count()).toBe(0);
    } finally {
      await page.close();
    }
  }, 120_000);
});

describe('web console: a period allowance still pending, in Chromium', () => {
  // The clock stands still, and no settle job runs by itself (with Redis the API consumes no jobs; the
  // database backend, which an API without Redis always consumes, stops taking them): the allowance stays
  // pending until the test settles the account, as the job would within a minute.
  const clock = new ManualClock('2026-04-20T14:00:00.000Z');
  let t: TestApp;
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    ({ t, url: origin } = await startListeningAppWithoutJobs(clock));
    browser = await launchChromium();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('finance reads that this period’s allowance is pending, and sees it granted once the job has run', async () => {
    expect((await t.request('PUT', '/v1/plans/prepaid', { body: { name: 'Prepaid', currency: 'EUR', base_fee: '10.00', included_allowance: '1.00', overage_policy: 'block' } })).status).toBeLessThan(300);
    expect((await t.post('/v1/accounts', { id: 'initech', name: 'Initech', currency: 'EUR' })).status).toBe(201);
    expect((await t.request('PUT', '/v1/accounts/initech/subscription', { body: { plan_id: 'prepaid', start_date: '2026-01-01', billing_anchor_day: 1 } })).status).toBe(200);
    const finance = (await newKey(t, { role: 'finance', account: 'initech' })).secret;
    expect((await t.get('/v1/accounts/initech/credits', finance)).body).toMatchObject({
      balance: '0',
      available: '1',
      pending_allowance: { amount: '1', period_start: '2026-04-01T00:00:00.000Z' },
      grants: [],
    });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await routeBuiltConsole(page, origin);
      await signInConsole(page, { url: origin }, finance, 'credits');
      await expectText(page.getByTestId('pending-allowance'), /^, plus this period's allowance of 1\.00 EUR \(pending: granted within a minute\)$/);
      await expectText(page.getByTestId('credit-available'), /^1\.00 EUR$/);
      await expectText(page.getByTestId('credit-balance'), /^0\.00 EUR$/);
      await expectText(page.getByTestId('grants'), /No grants in force\./);
      // Prepaid sells no packs: said as such, with no form whose only answer is "Choose a pack.".
      await expectText(page.getByTestId('no-packs'), /^The plan Prepaid sells no top-up packs/);
      expect(await page.getByRole('button', { name: 'Buy top-up' }).count()).toBe(0);
      await screenshots(page, 'credits-pending');

      // The job grants April's allowance: nothing is pending any more, the grant is listed.
      expect(await t.app.get(CreditsSettleService).settleAccount('initech', clock.now())).toMatchObject({ allowanceGranted: '1.00' });
      await page.reload();
      await expectText(page.getByTestId('grants'), /allowance.*1\.00 EUR/);
      await expectText(page.getByTestId('credit-balance'), /^1\.00 EUR$/);
      expect(await page.getByTestId('pending-allowance').count()).toBe(0);
    } finally {
      await page.close();
    }

    // An account without a subscription: said once, plainly (it read "no plan" over "Overage is billed on the
    // invoice.", and a top-up form waited for packs forever).
    expect((await t.post('/v1/accounts', { id: 'initrode', name: 'Initrode', currency: 'EUR' })).status).toBe(201);
    const bare = (await newKey(t, { role: 'finance', account: 'initrode' })).secret;
    const other = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await routeBuiltConsole(other, origin);
      await signInConsole(other, { url: origin }, bare, 'credits');
      await expectText(other.getByTestId('no-packs'), /could not be read: .*no subscription/);
      await expectText(other.locator('main'), /The account has no subscription: no allowance, no overage\./);
      expect(await other.getByRole('button', { name: 'Buy top-up' }).count()).toBe(0);
      expect(await other.locator('main').textContent()).not.toMatch(/Overage is billed/);
    } finally {
      await other.close();
    }
  }, 120_000);
});
