// The web console in a real browser (Debian's Chromium through playwright-core) against the built
// service started as an operator runs it: the console is served at /console by the service itself and
// calls the API with the pasted key. A member watches their meter move when an agent reports an
// operation; finance sets budgets, and picks next month to see and edit a budget allocated ahead (the
// period picked is in the address, so a reload shows it again); sales publishes a plan version and rolls it
// back, and a price book is checked before it is sent. Each page is photographed at desktop and phone
// widths into test/screenshots/.
import { readFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { ManualClock } from '../src/clock/clock.js';
import { expectFocus, expectText, expectValue, launchChromium, until, routeBuiltConsole, screenshots, serviceApi, signInConsole, sleep, startConsoleService } from './support/browser.js';
import { setupPricing } from './support/metering.js';
import type { ServiceProcess } from './support/service-process.js';
import { newOrg, startListeningAppWithoutJobs, type TestApp } from './support/test-app.js';

describe('web console (/console) in Chromium', () => {
  let service: ServiceProcess;
  let browser: Browser;
  const keys: Record<'member' | 'agent' | 'sales' | 'finance', string> = { member: '', agent: '', sales: '', finance: '' };
  let eventNumber = 0;

  /** The API as the tests' own client (set once the service is up). */
  let api: ReturnType<typeof serviceApi>;

  /** The agent reports one operation of 1,500 tokens (1,000 input, 200 cached, 300 output), of `model`. */
  async function report(operation: string, model = 'gpt-4o-2024-08-06'): Promise<void> {
    const answer = await api<{ results: { status: string }[] }>('POST', '/v1/events', keys.agent, {
      events: [
        {
          id: `console-op-${++eventNumber}`,
          timestamp: new Date().toISOString(),
          operation,
          channel: 'cli',
          model,
          task_id: `task-${eventNumber}`,
          attempt_id: 'a1',
          outcome: 'success',
          usage: { prompt_tokens: 1200, completion_tokens: 300, prompt_tokens_details: { cached_tokens: 200 } },
        },
      ],
    });
    expect(answer.results[0]!.status).toBe('accepted');
  }

  const signIn = (page: Page, key: string, hash: string) => signInConsole(page, service, key, hash);

  beforeAll(async () => {
    service = await startConsoleService('console');
    api = serviceApi(service);
    browser = await launchChromium();

    const admin = service.adminKey;
    await api('POST', '/v1/accounts', admin, { id: 'acme', name: 'Acme Corp', currency: 'EUR' });
    await api('POST', '/v1/accounts/acme/units', admin, { id: 'platform', name: 'Platform', kind: 'team' });
    await api('POST', '/v1/accounts/acme/people', admin, { id: 'ada', name: 'Ada Lovelace', unit_id: 'platform' });
    await api('POST', '/v1/accounts/acme/agents', admin, { id: 'ada-coder', name: 'Coding agent', owner_person_id: 'ada' });
    keys.member = (await api('POST', '/v1/api-keys', admin, { role: 'member', account: 'acme', person_id: 'ada', name: 'ada browser' })).secret;
    keys.agent = (await api('POST', '/v1/api-keys', admin, { role: 'agent', account: 'acme', agent_id: 'ada-coder', name: 'agent' })).secret;
    keys.sales = (await api('POST', '/v1/api-keys', admin, { role: 'sales', name: 'sales desk' })).secret;
    keys.finance = (await api('POST', '/v1/api-keys', admin, { role: 'finance', account: 'acme', name: 'finance desk' })).secret;
    await api('PUT', '/v1/models/gpt-4o', admin, { tier: 'specialized', provider: 'openai' });
    const from = Date.now() + 1500;
    await api('POST', '/v1/price-books', admin, {
      effective_from: new Date(from).toISOString(),
      tiers: {
        base: { input: '0.15', cached_input: '0.075', output: '0.60' },
        specialized: { input: '2.50', cached_input: '1.25', output: '10.00' },
        premier: { input: '15.00', cached_input: '7.50', output: '60.00' },
      },
    });
    await api('PUT', '/v1/plans/team', admin, { name: 'Team', currency: 'EUR', base_fee: '49.00', included_allowance: '20.00', overage_policy: 'bill', tier_caps: { specialized: 100_000 } });
    await api('PUT', '/v1/accounts/acme/subscription', admin, { plan_id: 'team' });
    await sleep(Math.max(0, from - Date.now() + 100));
    await report('code.edit');
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    service?.remove();
  });

  it('serves the console at /console from the service itself', async () => {
    const redirect = await fetch(`${service.url}/console`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([301, '/console/']);
    const page = await fetch(`${service.url}/console/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root">');
  });

  it('refuses a wrong key with the API’s own sentence and asks again', async () => {
    const page = await browser.newPage();
    try {
      await page.goto(`${service.url}/console/`);
      await screenshots(page, 'key');
      await page.getByLabel('API key').fill('tm_live_notakey_nope');
      await page.keyboard.press('Enter');
      await expectText(page.getByRole('alert'), /key/i);
      expect(await page.getByLabel('API key').isVisible()).toBe(true);
      // The field is marked and described by the refusal (it was marked only, aria-invalid="false" before any).
      expect(await page.getByLabel('API key').getAttribute('aria-invalid')).toBe('true');
      expect(await page.getByLabel('API key').getAttribute('aria-describedby')).toMatch(/^api-key-error /);
    } finally {
      await page.close();
    }
  }, 180_000);

  it('a member sees their meter move live when an operation is reported', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await api('PUT', '/v1/accounts/acme/budgets/person:ada', service.adminKey, { period: 'month', amount_limit: '10.00' });
      await signIn(page, keys.member, 'meter');
      expect(await page.getByTestId('who').textContent()).toContain('member · acme · ada');
      await expectText(page.getByTestId('live-state'), /^Live/);
      await expectText(page.getByTestId('meter-tokens'), /^1,500$/);
      // 1,000 × 2.50 + 200 × 1.25 + 300 × 10.00 per million = 0.00575 EUR
      await expectText(page.getByTestId('meter-cost'), /^0\.0057 EUR$/);
      // The key stays for this browser session: a reload does not ask again.
      await page.reload();
      await expectText(page.getByTestId('live-state'), /^Live/);

      await report('code.review');
      await expectText(page.getByTestId('meter-tokens'), /^3,000$/);
      await expectText(page.getByTestId('meter-calls'), /^2 operations$/);
      await expectText(page.getByTestId('ticker'), /code\.review/);
      // Ada's month budget of 10 EUR, less the two operations (0.0115 EUR), shown to the cent.
      await expectText(page.getByTestId('budget-left'), /^9\.98 EUR$/);
      await expectText(page.getByTestId('budget-node'), /^this month, your own budget$/);
      // The plan caps specialized tokens at 100,000 a billing period: two operations of 1,500 spent.
      await expectText(page.getByTestId('tier-cap-specialized'), /^97,000 specialized tokens left$/);
      await screenshots(page, 'meter');

      expect(await page.title()).toBe('My meter · tokenmeter');
      await page.getByRole('link', { name: 'Usage' }).click();
      await until(() => page.title(), (t) => t === 'Usage · tokenmeter', 5_000, 50, 'the tab titled Usage');
      await expectText(page.getByRole('table', { name: 'By operation' }), /code\.review[\s\S]*code\.edit|code\.edit[\s\S]*code\.review/);
      await expectText(page.getByTestId('effective-ratio'), /%|—/);
      await page.locator('.recharts-bar-rectangle').first().waitFor();
      // The chart is aria-hidden (its table says the same): nothing in it may take the keyboard's focus.
      expect(await page.locator('.chart-box [tabindex]:not([tabindex="-1"])').count()).toBe(0);
      await screenshots(page, 'usage');

      await page.getByRole('link', { name: 'Operations' }).click();
      await expectText(page.getByTestId('operations'), /code\.review/);
      await page.getByRole('textbox', { name: 'Operation' }).fill('code.edit');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await expectText(page.getByTestId('operations'), /^(?![\s\S]*code\.review)[\s\S]*code\.edit/);
      await screenshots(page, 'operations');
      // A range the API refuses (from after to): its sentence, and none of the rows of the filters before under it.
      await page.getByLabel('From (UTC)').fill('2030-01-02T00:00');
      await page.getByLabel('To (UTC)').fill('2030-01-01T00:00');
      await page.getByRole('button', { name: 'Apply filters' }).click();
      await expectText(page.getByTestId('operations-error'), /must be before/);
      expect(await page.getByTestId('operations').count()).toBe(0);
      await page.getByRole('button', { name: 'Clear' }).click();
      await expectText(page.getByTestId('operations'), /code\.review/);
      // Every page of the filters as one CSV file: what the API answers, byte for byte.
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: /^Download CSV/ }).click()]);
      expect(download.suggestedFilename()).toBe('operations-acme.csv');
      const saved = await readFile((await download.path())!, 'utf8');
      const answered = await (await fetch(`${service.url}/v1/accounts/acme/events?format=csv&limit=1000`, { headers: { authorization: `Bearer ${keys.member}` } })).text();
      expect(saved).toBe(answered);
      expect(saved.split('\r\n').filter((line) => /code\.(review|edit)/.test(line))).toHaveLength(2);
      await expectText(page.getByTestId('csv-note'), /^Saved operations-acme\.csv \(1 page of up to 1000 operations\)\.$/);

      // A model nobody priced yet: its tokens are read and its cost says "unpriced", never 0.0000 EUR.
      await report('code.plan', 'mystery-model-1');
      await page.getByRole('link', { name: 'My meter' }).click();
      await expectText(page.getByTestId('meter-tokens'), /^4,500$/);
      await expectText(page.getByTestId('meter-cost'), /^0\.0115 EUR$/);
      await expectText(page.getByTestId('meter-unpriced'), /^\+ 1,500 tokens unpriced: of models not priced yet, not in this cost/);
      await page.getByRole('link', { name: 'Usage' }).click();
      await expectText(page.getByTestId('usage-unpriced'), /^\+ 1,500 tokens unpriced: of models not priced yet/);
      const mystery = page.getByRole('table', { name: 'By model' }).getByRole('row', { name: /mystery-model-1/ });
      await expectText(mystery, /1,500[\s\S]*unpriced1,500 tokens unpriced/);
      await screenshots(page, 'usage-unpriced');
      // The chart's table by cost: the day's no-tier column reads "unpriced", not 0.0000.
      await page.getByRole('radio', { name: 'cost' }).check();
      await page.getByText('The chart as a table').click();
      const byDay = page.getByRole('table').filter({ has: page.getByRole('columnheader', { name: 'no tier (unpriced)' }) });
      await expectText(byDay.getByRole('cell', { name: 'unpriced', exact: true }), /^unpriced$/);
      // An address naming no page (a typo) says so, instead of showing the meter under it.
      await page.goto(`${service.url}/console/#/opertions`);
      await expectText(page.getByTestId('unknown-page'), /no page “opertions”/);
      expect(await page.getByTestId('meter-tokens').count()).toBe(0);
      expect(await page.title()).toBe('No such page · tokenmeter');
      // What a member may not do is not offered: the sales pages are not in the navigation.
      expect(await page.getByRole('link', { name: 'Plans' }).count()).toBe(0);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('finance sets budgets in the tree and sees an over-allocation refused with the parent named', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, keys.finance, 'budgets');
      const tree = page.getByTestId('budget-tree');
      await expectText(tree, /Acme Corp[\s\S]*Platform[\s\S]*Ada Lovelace/);
      await page.getByRole('button', { name: 'Edit the budget of Acme Corp' }).click();
      await page.getByLabel('Headcount of Acme Corp').fill('5');
      await page.getByLabel('Amount limit of Acme Corp').fill('100');
      await page.getByRole('button', { name: 'Save' }).click();
      await expectText(page.getByTestId('budget-message'), /^Saved the year budget of Acme Corp\.$/);
      await expectText(tree.locator('tr[data-node=account]'), /5 \(1 person, 1 agent\)[\s\S]*100\.00 EUR/);

      // The team may not be given more than the account has: refused, the parent named and marked, nothing saved.
      await page.getByRole('button', { name: 'Edit the budget of Platform' }).click();
      await page.getByLabel('Amount limit of Platform').fill('150');
      await page.keyboard.press('Enter');
      await expectText(page.getByRole('alert'), /account allocates an amount of 100/);
      expect(await tree.locator('tr[data-node=account]').getAttribute('class')).toBe('refused');
      const budgets = await api('GET', '/v1/accounts/acme/budgets?period=year', keys.finance);
      expect(budgets.data.map((b: { node: string }) => b.node)).toEqual(['account']);
      await screenshots(page, 'budgets');

      await page.getByLabel('Amount limit of Platform').fill('60');
      await page.getByRole('button', { name: 'Save' }).click();
      await expectText(page.getByTestId('budget-message'), /^Saved the year budget of Platform\.$/);
      const after = await api('GET', '/v1/accounts/acme/budgets?period=year', keys.finance);
      expect(after.data.find((b: { node: string }) => b.node === 'unit:platform').limit.amount).toMatch(/^60(\.0+)?$/);

      // Typos are refused in the page, on the field, before anything is sent (an amount with a thousands comma
      // went out and came back as "amount_limit is not a plain decimal number."; a headcount typed as a word
      // went out as null).
      const writes: string[] = [];
      page.on('request', (r) => void (r.method() !== 'GET' && writes.push(`${r.method()} ${r.url()}`)));
      await page.getByRole('button', { name: 'Edit the budget of Platform' }).click();
      await page.getByLabel('Amount limit of Platform').fill('1,000');
      await page.getByRole('button', { name: 'Save' }).click();
      await expectText(page.getByTestId('budget-message'), /^The amount limit is a decimal number/);
      expect(await page.getByLabel('Amount limit of Platform').getAttribute('aria-invalid')).toBe('true');
      await page.getByRole('button', { name: 'Cancel' }).click();
      const transfer = page.getByRole('form', { name: 'Transfer unused allocation' });
      await transfer.getByLabel('From').selectOption('unit:platform');
      await transfer.getByLabel('To (a sibling or the parent)').selectOption('account');
      await transfer.getByRole('textbox', { name: 'Headcount' }).fill('one');
      await transfer.getByRole('textbox', { name: 'Amount' }).fill('5,5');
      await transfer.getByRole('button', { name: 'Transfer' }).click();
      await expectText(page.getByTestId('budget-message'), /^Fix the marked transfer fields first\.$/);
      expect(await transfer.getByRole('textbox', { name: 'Amount' }).getAttribute('aria-invalid')).toBe('true');
      await expectText(transfer, /A whole number of people\./);
      await expectFocus(page, transfer.getByRole('textbox', { name: 'Amount' }));
      expect(writes).toEqual([]);
      // Corrected, it moves, and says what moved in words (no "0 heads, 0 tokens").
      await transfer.getByRole('textbox', { name: 'Headcount' }).fill('');
      await transfer.getByRole('textbox', { name: 'Amount' }).fill('10');
      await transfer.getByRole('button', { name: 'Transfer' }).click();
      await expectText(page.getByTestId('budget-message'), /^Moved 10\.00 EUR from Platform to Acme Corp\.$/);
      expect(writes).toHaveLength(1);
      await expectText(tree.locator('tr[data-node="unit:platform"]'), /50\.00 EUR[\s\S]*tokens spent/);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('finance picks another budget period: a budget set for next month is not in the current month, shows once next month is picked, and is edited there', async () => {
    const now = new Date();
    const day = (monthOffset: number, d = 1) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + monthOffset, d)).toISOString().slice(0, 10);
    const [thisMonth, nextMonth] = [day(0), day(1)];
    await api('PUT', '/v1/accounts/acme/budgets/unit:platform', keys.finance, { period: 'month', period_start: nextMonth, amount_limit: '30.00' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, keys.finance, 'budgets');
      const shown = page.getByTestId('budget-period');
      const start = page.getByLabel('Starting');
      const platform = page.getByTestId('budget-tree').locator('tr[data-node="unit:platform"]');

      // The month in force: Platform has no budget in it (next month's is not in force).
      await page.getByLabel('Period', { exact: true }).selectOption('month');
      await expectText(shown, /^The month 1 \S+ \d{4} – \d{1,2} \S+ \d{4}: in force now\.$/);
      await expectValue(start, thisMonth);
      await expectText(platform, /^Platform unit:platform—/);
      expect(await platform.textContent()).not.toMatch(/30\.00/);
      expect(await page.getByRole('button', { name: 'Current month' }).isDisabled()).toBe(true);

      // A day of next month picked: the month holding it, its budget listed.
      await start.fill(day(1, 15));
      await expectValue(start, nextMonth);
      await expectText(shown, /^The month 1 \S+ \d{4} – \d{1,2} \S+ \d{4}: to come; allocated ahead, nothing spent yet\.$/);
      await expectText(platform, /Platform unit:platform.*30\.00 EUR.*0\.00 EUR spent/);
      await screenshots(page, 'budgets-next-month');

      // Edited there: the PUT is next month's; the month in force is untouched.
      await page.getByRole('button', { name: 'Edit the budget of Platform' }).click();
      await page.getByLabel('Amount limit of Platform').fill('35');
      await page.getByRole('button', { name: 'Save' }).click();
      await expectText(page.getByTestId('budget-message'), /^Saved the month budget of Platform for 1 \S+ \d{4} – \d{1,2} \S+ \d{4}\.$/);
      await expectText(platform, /Platform unit:platform.*35\.00 EUR/);
      const ahead = await api('GET', `/v1/accounts/acme/budgets?period=month&period_start=${nextMonth}`, keys.finance);
      expect(ahead.data.map((b: { node: string; limit: { amount: string } }) => [b.node, Number(b.limit.amount)])).toEqual([['unit:platform', 35]]);
      const inForce = await api('GET', '/v1/accounts/acme/budgets?period=month', keys.finance);
      expect(inForce.data.map((b: { node: string }) => b.node)).not.toContain('unit:platform');

      // The period picked is in the address, as an invoice is: reloaded (or bookmarked), the page shows it again.
      expect(new URL(page.url()).hash).toBe(`#/budgets?period=month&start=${nextMonth}`);
      await page.reload();
      await expectValue(page.getByLabel('Period', { exact: true }), 'month');
      await expectValue(start, nextMonth);
      await expectText(shown, /^The month 1 \S+ \d{4} – \d{1,2} \S+ \d{4}: to come; allocated ahead, nothing spent yet\.$/);
      await expectText(platform, /Platform unit:platform.*35\.00 EUR/);

      // Back to the month in force (the address no longer names a start), then the month before it: ended, so
      // nothing there can be edited.
      await page.getByRole('button', { name: 'Current month' }).click();
      await expectValue(start, thisMonth);
      await expectText(shown, /in force now\.$/);
      await expectText(platform, /^Platform unit:platform—/);
      expect(new URL(page.url()).hash).toBe('#/budgets?period=month');
      await page.getByRole('button', { name: 'Previous month' }).click();
      await expectValue(start, day(-1));
      expect(new URL(page.url()).hash).toBe(`#/budgets?period=month&start=${day(-1)}`);
      // Back is the period shown before, the month in force; forward the ended month again.
      await page.goBack();
      await expectValue(start, thisMonth);
      await expectText(shown, /in force now\.$/);
      await page.goForward();
      await expectValue(start, day(-1));
      await expectText(shown, /: ended; what was spent in it\. Its budgets no longer change\.$/);
      await expectText(platform, /^Platform unit:platform/);
      expect(await page.getByRole('button', { name: /^Edit the budget of/ }).count()).toBe(0);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('sales publishes a plan version, sees what changed, and rolls back', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => void dialog.accept());
    try {
      await signIn(page, keys.sales, 'plans');
      await expectText(page.getByTestId('plan-versions'), /v1 \(latest\)/);
      await page.getByLabel('Base fee').fill('59.00');
      await page.getByLabel('Included allowance').fill('25.00');
      await page.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByTestId('plan-message'), /^Published team version 2\.$/);
      await expectText(page.getByTestId('plan-versions'), /v2 \(latest\)/);
      // The changed terms of v2 are marked, and say so to a screen reader.
      const changed = page.locator('[data-testid=plan-versions] td.changed');
      expect(await changed.allTextContents()).toEqual(['59.00 (changed)', '25.00 (changed)']);
      await screenshots(page, 'plans');

      await page.getByRole('button', { name: 'Roll back to v1' }).click();
      await expectText(page.getByTestId('plan-message'), /^Rolled back: version 3 is a copy of version 1\.$/);
      await expectText(page.getByTestId('plan-versions'), /v3 \(latest\)[\s\S]*copy of v1/);
      const latest = await api('GET', '/v1/plans/team', keys.sales);
      expect(latest).toMatchObject({ version: 3, rolled_back_from: 1, base_fee: '49.00', included_allowance: '20.00' });
    } finally {
      await page.close();
    }
  }, 120_000);

  it('sales: a price book is checked before it is sent, then published; subscriptions show the terms', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, keys.sales, 'catalog');
      const before = (await api('GET', '/v1/price-books', keys.sales)).data.length;
      const form = page.getByRole('form', { name: 'Publish a new price-book version' });
      const price = (tier: string, kind: string) => form.getByRole('group', { name: tier }).getByLabel(kind, { exact: true });
      await price('base', 'input').fill('abc');
      await form.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByRole('alert'), /to fix before publishing/);
      expect(await price('base', 'input').getAttribute('aria-invalid')).toBe('true');
      await screenshots(page, 'catalog');
      expect((await api('GET', '/v1/price-books', keys.sales)).data.length).toBe(before);

      for (const [tier, input, output] of [['base', '0.20', '0.80'], ['specialized', '3.00', '12.00'], ['premier', '15.00', '60.00']]) {
        await price(tier!, 'input').fill(input!);
        await price(tier!, 'output').fill(output!);
      }
      await form.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByRole('status').filter({ hasText: 'Published price book' }), new RegExp(`version ${before + 1}`));
      expect((await api('GET', '/v1/price-books', keys.sales)).data.length).toBe(before + 1);

      await page.getByRole('link', { name: 'Subscriptions' }).click();
      await page.getByLabel('Account').selectOption('acme');
      await expectText(page.getByTestId('subscription'), /team v3 \(follows the latest\)/);
      await screenshots(page, 'subscriptions');
    } finally {
      await page.close();
    }
  }, 120_000);
});

describe('web console: budget periods and their alerts by the service’s clock, in Chromium', () => {
  // The service's clock (injected) is in May 2031, the browser's fixed in February 2031: whether a period is
  // in force, ended or to come, and which one is in force, is the service's word. Alerts fired in April and
  // in May; each period shows its own.
  const clock = new ManualClock('2031-04-01T00:00:00.000Z');
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

  it('finance reads the period in force, an ended and a coming one as the service places them, each with only its own alerts', async () => {
    const o = await newOrg(t);
    await setupPricing(t, o.account);
    const person = `person:${o.person}`;
    const budget = async (amount: string) => expect((await t.request('PUT', `/v1/accounts/${o.account}/budgets/${person}`, { key: o.keys.finance, body: { period: 'month', amount_limit: amount } })).status).toBe(200);
    /** qwen-turbo is base: 0.50 per million input tokens. */
    const spend = async (id: string, timestamp: string, inputTokens: number) =>
      expect((await t.post('/v1/events', { events: [{ id, timestamp, model: 'qwen-turbo', usage: { input: inputTokens, output: 0 } }] }, o.keys.agent)).body.results[0].status).toBe('accepted');
    const fired = async (query: string) =>
      ((await t.get(`/v1/accounts/${o.account}/budgets/alerts?${query}`, o.keys.finance)).body.data as { kind: string; threshold: number | null }[])
        .map((a) => `${a.kind} ${a.threshold}`)
        .sort();
    // April: 1.00 of 2.00, 50 %.
    clock.set('2031-04-10T12:00:00.000Z');
    await budget('2');
    await spend('apr-1', '2031-04-09T00:00:00Z', 2_000_000);
    expect(await fired('period=month&period_start=2031-04-01')).toEqual(['forecast null', 'threshold 50']);
    // May: 1.60 of 2.00, 80 %.
    clock.set('2031-05-15T12:00:00.000Z');
    await budget('2');
    await spend('may-1', '2031-05-14T00:00:00Z', 3_200_000);
    expect(await fired('period=month&period_start=2031-05-01')).toEqual(['forecast null', 'threshold 50', 'threshold 80']);

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.clock.setFixedTime(new Date('2031-02-20T12:00:00.000Z'));
      await routeBuiltConsole(page, origin);
      await signInConsole(page, { url: origin }, o.keys.finance, 'budgets?period=month');
      expect(await page.evaluate(() => new Date().toISOString())).toBe('2031-02-20T12:00:00.000Z');
      const shown = page.getByTestId('budget-period');
      const start = page.getByLabel('Starting');
      const alerts = page.getByTestId('budget-alerts');

      // The month in force by the service's clock: May, with May's alerts only.
      await expectText(shown, /^The month 1 May 2031 – 31 May 2031: in force now\.$/);
      await expectValue(start, '2031-05-01');
      await expectText(alerts, /crossed 80 %/);
      expect(await alerts.locator('li').count()).toBe(3);
      await expectText(alerts, /\(month from 1 May 2031\)/);
      expect(await alerts.textContent()).not.toMatch(/2031-04-01|1 Apr 2031/);
      // Each alert names its node as the tree does (the person's name), not by the API's `person:<id>`.
      expect(await alerts.textContent()).not.toContain(person);

      // A kind with no budget in force: still the service's quarter (the browser's would be January's), none fired.
      await page.getByLabel('Period', { exact: true }).selectOption('quarter');
      await expectText(shown, /^The quarter 1 Apr 2031 – 30 Jun 2031: in force now\.$/);
      await expectValue(start, '2031-04-01');
      await expectText(alerts, /^No alert has fired in this quarter\.$/);

      // The month before: ended by the service's clock (to come by the browser's), with April's alerts only.
      await page.getByLabel('Period', { exact: true }).selectOption('month');
      await expectValue(start, '2031-05-01');
      await page.getByRole('button', { name: 'Previous month' }).click();
      expect(new URL(page.url()).hash).toBe('#/budgets?period=month&start=2031-04-01');
      await expectText(shown, /^The month 1 Apr 2031 – 30 Apr 2031: ended; what was spent in it\. Its budgets no longer change\.$/);
      await expectText(alerts, /crossed 50 %/);
      expect(await alerts.locator('li').count()).toBe(2);
      expect(await alerts.textContent()).not.toMatch(/80 %|2031-05-01|1 May 2031/);
      expect(await page.getByRole('button', { name: /^Edit the budget of/ }).count()).toBe(0);

      // Next: May again, which the service says is in force, so the address names no start.
      await page.getByRole('button', { name: 'Next month' }).click();
      expect(new URL(page.url()).hash).toBe('#/budgets?period=month');
      await expectText(shown, /in force now\.$/);
      await expectText(alerts, /crossed 80 %/);
      // And June: to come, nothing fired in it.
      await page.getByRole('button', { name: 'Next month' }).click();
      expect(new URL(page.url()).hash).toBe('#/budgets?period=month&start=2031-06-01');
      await expectText(shown, /^The month 1 Jun 2031 – 30 Jun 2031: to come; allocated ahead, nothing spent yet\.$/);
      await expectText(alerts, /^No alert has fired in this month\.$/);
      await screenshots(page, 'budgets-service-clock');

      // The listing failing (the service answering 503): the alerts say they were not read, not that none fired.
      await page.route(/\/budgets\?/, (r) => r.fulfill({ status: 503, contentType: 'application/json', body: JSON.stringify({ error: { code: 'unavailable', message: 'The service is unavailable.' } }) }));
      await page.getByRole('button', { name: 'Next month' }).click();
      await expectText(alerts, /^The alerts were not read: the page could not be read \(above\)\.$/);
    } finally {
      await page.close();
    }
  }, 120_000);
});
