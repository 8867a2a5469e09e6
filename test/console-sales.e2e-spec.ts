// The console's sales forms in a real browser (Debian's Chromium through playwright-core) against the
// built service started as an operator runs it: a price book published with a per-model rate and read back
// in the history; a plan version with a changed tier cap and a discount ladder, seen side by side with the
// version before, then rolled back; a subscription's caps overridden. Each form refuses bad input before
// sending (nothing reaches the API), and shows the service's own sentence when the service refuses.
import type { Browser, Page } from 'playwright-core';
import { expectFocus, expectText, expectValue, launchChromium, screenshots, serviceApi, signInConsole, startConsoleService } from './support/browser.js';
import type { ServiceProcess } from './support/service-process.js';

describe('web console: sales forms in Chromium', () => {
  let service: ServiceProcess;
  let browser: Browser;
  let sales = '';

  /** The API as the tests' own client (set once the service is up). */
  let api: ReturnType<typeof serviceApi>;

  const signIn = (page: Page, hash: string) => signInConsole(page, service, sales, hash);

  beforeAll(async () => {
    service = await startConsoleService('console_sales');
    api = serviceApi(service);
    browser = await launchChromium();

    const admin = service.adminKey;
    await api('POST', '/v1/accounts', admin, { id: 'initech', name: 'Initech', currency: 'EUR' });
    sales = (await api('POST', '/v1/api-keys', admin, { role: 'sales', name: 'sales desk' })).secret;
    await api('PUT', '/v1/models/gpt-4o', admin, { tier: 'specialized', provider: 'openai' });
    await api('PUT', '/v1/models/claude-opus', admin, { tier: 'premier', provider: 'anthropic' });
    await api('POST', '/v1/price-books', admin, {
      tiers: {
        base: { input: '0.15', output: '0.60' },
        specialized: { input: '2.50', cached_input: '1.25', output: '10.00' },
        premier: { input: '15.00', output: '60.00' },
      },
    });
    await api('PUT', '/v1/plans/scale', admin, {
      name: 'Scale',
      currency: 'EUR',
      base_fee: '99.00',
      included_allowance: '50.00',
      overage_policy: 'bill',
      tier_caps: { premier: 1_000_000 },
      topup_packs: [{ id: 'small', allowance: '50.00', price: '45.00', validity_days: 90 }],
    });
    await api('PUT', '/v1/accounts/initech/subscription', admin, { plan_id: 'scale', overrides: { included_allowance: '75.00' } });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    service?.remove();
  });

  it('sales publishes a price book with a per-model rate and sees it in the history', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, 'catalog');
      const form = page.getByRole('form', { name: 'Publish a new price-book version' });
      const price = (tier: string, kind: string) => form.getByRole('group', { name: tier, exact: true }).getByLabel(kind, { exact: true });
      // The form starts as a copy of the newest version, so publishing it changes only what sales change.
      await expectText(page.getByTestId('price-book-history').locator('summary'), /^Version 1 · from/);
      expect(await price('specialized', 'cached input').inputValue()).toBe('1.25');

      await form.getByRole('button', { name: 'Add a model rate' }).click();
      const row = form.getByRole('group', { name: 'Rate row 1' });
      // Keyboard: the new row's controls are reached with Tab from the model choice.
      await row.getByLabel('Model').focus();
      await page.keyboard.press('Tab');
      expect(await page.evaluate('document.activeElement && document.activeElement.id')).toBe(await row.getByLabel('Applies to').getAttribute('id'));
      await row.getByLabel('input', { exact: true }).fill('2.0,0');
      await form.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByRole('alert'), /^2 fields to fix before publishing\.$/);
      expect(await row.getByLabel('Model').getAttribute('aria-invalid')).toBe('true');
      await expectFocus(page, row.getByLabel('Model')); // the keyboard is taken to the first field to fix
      await expectText(row, /Choose a model\./);
      expect(await row.getByLabel('input', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      expect((await api('GET', '/v1/price-books', sales)).data).toHaveLength(1); // nothing was sent

      await row.getByLabel('Model').selectOption('gpt-4o');
      await row.getByLabel('input', { exact: true }).fill('2.00');
      await row.getByLabel('output', { exact: true }).fill('8.00');
      // A long-context row for a whole tier needs the threshold it starts above.
      await form.getByRole('button', { name: 'Add a model rate' }).click();
      const long = form.getByRole('group', { name: 'Rate row 2' });
      await long.getByLabel('Applies to').selectOption('long');
      await long.getByLabel('Model').selectOption('tier:premier');
      await long.getByLabel('input', { exact: true }).fill('30.00');
      await form.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByRole('alert'), /^1 field to fix before publishing\.$/);
      const threshold = form.getByLabel('Long context above (input tokens)');
      await expectFocus(page, threshold);
      expect((await api('GET', '/v1/price-books', sales)).data).toHaveLength(1);
      await threshold.fill('200000');
      await screenshots(page, 'catalog-model-rates');
      // The write goes with an Idempotency-Key, so a resend after a lost answer publishes it once.
      const sent = page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith('/v1/price-books'));
      await form.getByRole('button', { name: 'Publish version' }).click();
      expect((await sent).headers()['idempotency-key']).toMatch(/^[0-9a-f-]{32,36}$/);
      await expectText(page.getByRole('status').filter({ hasText: 'Published price book' }), /^Published price book version 2, in force from/);

      const books = (await api('GET', '/v1/price-books', sales)).data as { version: number; models: unknown; tiers: Record<string, unknown> }[];
      const published = books.find((b) => b.version === 2)!;
      expect(published.models).toEqual({ 'gpt-4o': { input: '2.00', output: '8.00' } });
      expect((published as unknown as { long_context: unknown }).long_context).toEqual({ threshold_tokens: 200_000, tiers: { premier: { input: '30.00' } } });
      expect(published.tiers.specialized).toEqual({ input: '2.50', cached_input: '1.25', output: '10.00' });

      // The history: version 2 first, saying it has a model rate, and its rates when opened.
      const newest = page.getByTestId('price-book-history').locator('li').first();
      await expectText(newest.locator('summary'), /^Version 2 · from .* · 2 rate rows$/);
      await newest.locator('summary').click();
      const rates = newest.getByTestId('model-rates');
      expect((await rates.locator('tbody tr').allTextContents()).map((t) => t.replace(/\s+/g, ' '))).toEqual(['gpt-4oevery request2.00——8.00—', 'every premier modellong context30.00————']);
      await expectText(newest, /Long context: requests with more than 200,000 input tokens\./);
      // The next version starts from this one, the model row included.
      await expectText(form.getByRole('group', { name: 'Rate row 1' }).getByLabel('Model').locator('option:checked'), /^gpt-4o \(specialized\)$/);
      await screenshots(page, 'catalog-history');
    } finally {
      await page.close();
    }
  }, 120_000);

  it('sales publishes a plan version with a changed tier cap, sees the change side by side, then rolls back', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', (dialog) => void dialog.accept());
    try {
      await signIn(page, 'plans');
      await expectText(page.getByTestId('plan-versions'), /v1 \(latest\)/);
      const form = page.getByRole('form', { name: 'Publish a plan version' });
      const caps = form.getByRole('group', { name: 'Tier caps (tokens per period)' });
      expect(await caps.getByLabel('premier', { exact: true }).inputValue()).toBe('1000000');
      expect(await form.getByRole('group', { name: 'Pack 1' }).getByLabel('Price').inputValue()).toBe('45.00');

      // Refused before sending: a cap is whole tokens, a ladder goes up and ends unbounded.
      await caps.getByLabel('premier', { exact: true }).fill('2.5');
      await form.getByRole('button', { name: 'Add a step' }).click();
      await form.getByRole('button', { name: 'Add a step' }).click();
      const step = (n: number) => form.getByRole('group', { name: `Step ${n}` });
      await step(1).getByLabel('Up to').fill('1000');
      await step(1).getByLabel('Discount %').fill('0');
      await step(2).getByLabel('Up to').fill('500');
      await step(2).getByLabel('Discount %').fill('5');
      await form.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByTestId('plan-message'), /^2 fields to fix before publishing\.$/);
      expect(await caps.getByLabel('premier', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      await expectText(step(2), /The last step has no end/);
      expect((await api('GET', '/v1/plans/scale/versions', sales)).data).toHaveLength(1);
      await screenshots(page, 'plans-terms-refused');

      // Refused by the service: its own sentence is shown, on the field it names.
      await step(2).getByLabel('Up to').fill('');
      await caps.getByLabel('premier', { exact: true }).fill('2,000,000');
      await form.getByLabel('Base fee').fill('9'.repeat(70));
      await form.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByTestId('plan-message'), /base_fee/);
      expect(await form.getByLabel('Base fee').getAttribute('aria-invalid')).toBe('true');
      expect((await api('GET', '/v1/plans/scale/versions', sales)).data).toHaveLength(1);

      await form.getByLabel('Base fee').fill('99.00');
      await form.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByTestId('plan-message'), /^Published scale version 2\.$/);
      await expectText(page.getByTestId('plan-versions'), /v2 \(latest\)/);
      const v2 = await api('GET', '/v1/plans/scale', sales);
      expect(v2).toMatchObject({
        version: 2,
        tier_caps: { premier: 2_000_000 },
        volume_discount: [{ up_to: '1000', discount_pct: '0' }, { up_to: null, discount_pct: '5' }],
        topup_packs: [{ id: 'small', allowance: '50.00', price: '45.00', validity_days: 90 }],
        base_fee: '99.00',
      });

      // Side by side: only the terms v2 changed are marked, and say so to a screen reader.
      const table = page.getByTestId('plan-versions');
      const row = (term: string) => table.getByRole('row', { name: new RegExp(`^${term}`) });
      expect(await row('Tier caps').locator('td').allTextContents()).toEqual(['premier 2,000,000 (changed)', 'premier 1,000,000']);
      expect(await row('Volume discount').locator('td').allTextContents()).toEqual(['to 1000: 0% · above: 5% (changed)', 'none']);
      expect(await table.locator('td.changed').count()).toBe(2);
      await screenshots(page, 'plans-side-by-side');

      await page.getByRole('button', { name: 'Roll back to v1' }).click();
      await expectText(page.getByTestId('plan-message'), /^Rolled back: version 3 is a copy of version 1\.$/);
      await expectText(table, /v3 \(latest\)[\s\S]*copy of v1/);
      expect(await row('Tier caps').locator('td').allTextContents()).toEqual(['premier 1,000,000 (changed)', 'premier 2,000,000 (changed)', 'premier 1,000,000']);
      const v3 = await api('GET', '/v1/plans/scale', sales);
      expect(v3).toMatchObject({ version: 3, rolled_back_from: 1, tier_caps: { premier: 1_000_000 }, volume_discount: null });
      // The form now starts from v3: the cap it restored, no ladder.
      expect(await caps.getByLabel('premier', { exact: true }).inputValue()).toBe('1000000');
      expect(await form.getByRole('group', { name: 'Step 1' }).count()).toBe(0);

      // A new plan starts blank: neither the unpublished edit of the plan picked before (its name, its terms)
      // nor its refusal comes along.
      await caps.getByLabel('premier', { exact: true }).fill('2.5');
      await form.getByRole('button', { name: 'Publish version' }).click();
      await expectText(page.getByTestId('plan-message'), /^1 field to fix before publishing\.$/);
      await page.getByLabel('Plan', { exact: true }).selectOption({ label: '+ A new plan' });
      await expectText(form.getByRole('heading'), /^New plan$/);
      expect(await page.getByTestId('plan-message').count()).toBe(0);
      expect(await form.getByLabel('Name').inputValue()).toBe('');
      expect(await caps.getByLabel('premier', { exact: true }).inputValue()).toBe('');
      expect(await form.locator('[aria-invalid=true]').count()).toBe(0);
      expect(await form.getByRole('button', { name: 'Create plan' }).count()).toBe(1);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('an override set while switching plans starts from the chosen plan’s caps and ladder, not the current one’s', async () => {
    const admin = service.adminKey;
    await api('POST', '/v1/accounts', admin, { id: 'globex', name: 'Globex', currency: 'EUR' });
    await api('PUT', '/v1/plans/growth', admin, {
      name: 'Growth',
      currency: 'EUR',
      base_fee: '49.00',
      included_allowance: '20.00',
      overage_policy: 'bill',
      tier_caps: { specialized: 2_000_000 },
      volume_discount: [{ up_to: '1000', discount_pct: '0' }, { up_to: null, discount_pct: '7.5' }],
    });
    await api('PUT', '/v1/accounts/globex/subscription', admin, { plan_id: 'scale' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await signIn(page, 'subscriptions');
      await page.getByLabel('Account').selectOption('globex');
      await expectText(page.getByTestId('subscription'), /scale v\d+/);
      const form = page.getByRole('form', { name: 'Subscribe the account' });
      // Caps picked while the current plan is chosen: a copy of scale's.
      await form.getByLabel('Tier caps', { exact: true }).selectOption('set');
      const caps = form.getByRole('group', { name: 'Tier caps override (tokens per period)' });
      await expectValue(caps.getByLabel('premier', { exact: true }), '1000000');
      // Growth's terms answer slowly, so the ladder is picked before they arrive (as a quick hand or a slow
      // network does): neither the untouched copy of scale's caps nor the ladder may keep scale's terms.
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      await page.route('**/v1/plans/growth', async (route) => {
        await held;
        await route.continue();
      });
      await form.getByLabel('Plan', { exact: true }).selectOption('growth');
      await form.getByLabel('Volume discount', { exact: true }).selectOption('set');
      release();
      await expectValue(caps.getByLabel('specialized', { exact: true }), '2000000');
      expect(await caps.getByLabel('premier', { exact: true }).inputValue()).toBe(''); // scale's premier cap is not carried over
      const ladder = form.getByRole('group', { name: 'Volume discount override' });
      await expectValue(ladder.getByRole('group', { name: 'Step 2' }).getByLabel('Discount %'), '7.5');
      await form.getByRole('button', { name: 'Save subscription' }).click();
      await expectText(form.getByRole('status'), /^globex is on growth v1 \(following the latest\)\.$/);
      const saved = await api('GET', '/v1/accounts/globex/subscription', sales);
      expect(saved.overrides.tier_caps).toEqual({ specialized: 2_000_000 });
      expect(saved.effective_terms.tier_caps).toEqual({ specialized: 2_000_000 });
      expect(saved.overrides.volume_discount).toEqual(saved.plan.volume_discount);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('sales overrides a subscription’s tier caps, keeping its allowance override', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    try {
      await signIn(page, 'subscriptions');
      // The tabs scroll sideways at this width: the current one is in sight (it was off to the right).
      const tab = await page.getByRole('navigation', { name: 'Pages' }).getByRole('link', { name: 'Subscriptions' }).boundingBox();
      expect(tab!.x).toBeGreaterThanOrEqual(0);
      expect(tab!.x + tab!.width).toBeLessThanOrEqual(390);
      await page.getByLabel('Account').selectOption('initech');
      await expectText(page.getByTestId('subscription'), /scale v3/);
      // Its start as the console writes days elsewhere (was 2026-12-04).
      await expectText(page.getByTestId('subscription'), /Since\d{1,2} \S+ \d{4}Billing/);
      const form = page.getByRole('form', { name: 'Subscribe the account' });
      expect(await form.getByLabel('Included allowance override').inputValue()).toBe('75.00');
      await form.getByLabel('Tier caps', { exact: true }).selectOption('set');
      const caps = form.getByRole('group', { name: 'Tier caps override (tokens per period)' });
      // The override replaces the plan's caps whole, so it starts as a copy of them.
      await expectValue(caps.getByLabel('premier', { exact: true }), '1000000');
      await caps.getByLabel('base', { exact: true }).fill('ten');
      await form.getByRole('button', { name: 'Save subscription' }).click();
      expect(await caps.getByLabel('base', { exact: true }).getAttribute('aria-invalid')).toBe('true');
      await caps.getByLabel('base', { exact: true }).fill('500000');
      await form.getByRole('button', { name: 'Save subscription' }).click();
      await expectText(form.getByRole('status'), /^initech is on scale v3 \(following the latest\)\.$/);
      const saved = await api('GET', '/v1/accounts/initech/subscription', sales);
      expect(saved.overrides).toEqual({ included_allowance: '75.00', tier_caps: { base: 500_000, premier: 1_000_000 } });
      expect(saved.effective_terms.tier_caps).toEqual({ base: 500_000, premier: 1_000_000 });
      await expectText(page.getByTestId('subscription'), /Tier caps ?base 500,000 · premier 1,000,000 \(override\)/);
      await screenshots(page, 'subscriptions-overrides');
    } finally {
      await page.close();
    }
  }, 120_000);
  it('sales cancels a subscription at the period end (once confirmed), sees when it ends, and subscribes it again', async () => {
    const admin = service.adminKey;
    await api('POST', '/v1/accounts', admin, { id: 'hooli', name: 'Hooli', currency: 'EUR' });
    await api('PUT', '/v1/accounts/hooli/subscription', admin, { plan_id: 'scale', billing_anchor_day: 1 });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const deletes: string[] = [];
    page.on('request', (r) => void (r.method() === 'DELETE' && deletes.push(r.url())));
    try {
      await signIn(page, 'subscriptions');
      await page.getByLabel('Account').selectOption('hooli');
      await expectText(page.getByTestId('subscription'), /scale v\d+/);
      const form = page.getByRole('form', { name: 'Subscribe the account' });
      // Dismissed: nothing is sent.
      page.once('dialog', (dialog) => void dialog.dismiss());
      await form.getByRole('button', { name: 'Cancel at period end' }).click();
      expect(deletes).toEqual([]);
      page.once('dialog', (dialog) => {
        expect(dialog.message()).toContain('billed to the end of the current billing period');
        void dialog.accept();
      });
      await form.getByRole('button', { name: 'Cancel at period end' }).click();
      // Anchored on the 1st: it ends on the first of next month.
      const now = new Date();
      const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' });
      await expectText(form.getByRole('status'), new RegExp(`^hooli's subscription ends on ${end}\\.$`));
      await expectText(page.getByTestId('subscription'), new RegExp(`Ends${end} \\(cancelled: billed until then\\)`));
      expect((await api('GET', '/v1/accounts/hooli/subscription', sales)).ends_at).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString());
      // Cancelled: the form subscribes it again, and says so.
      await expectText(form.getByRole('heading'), /^Subscribe again$/);
      expect(await form.getByRole('button', { name: 'Cancel at period end' }).count()).toBe(0);
      await form.getByRole('button', { name: 'Save subscription' }).click();
      await expectText(form.getByRole('status'), /^hooli is on scale v\d+ \(following the latest\)\.$/);
      expect((await api('GET', '/v1/accounts/hooli/subscription', sales)).ends_at).toBeNull();
      await expectText(form.getByRole('heading'), /^Change the subscription$/);
    } finally {
      await page.close();
    }
  }, 120_000);

  it('sales adds a model (a typo refused on its field, nothing sent) and changes its tier without losing its aliases', async () => {
    const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    const writes: string[] = [];
    page.on('request', (r) => void (r.method() === 'PUT' && writes.push(r.url())));
    try {
      await signIn(page, 'catalog');
      const form = page.getByRole('form', { name: 'Add or change a model' });
      // Was the browser's own bubble ("Please match the requested format."), saying nothing of the format.
      await form.getByLabel('Model id').fill('GPT 4.1');
      await form.getByRole('button', { name: 'Save model' }).click();
      await expectText(form, /Lower-case letters, digits/);
      await expectText(form, /A provider is required/);
      expect(await form.getByLabel('Model id').getAttribute('aria-invalid')).toBe('true');
      await expectFocus(page, form.getByLabel('Model id'));
      expect(writes).toEqual([]);

      await form.getByLabel('Model id').fill('gpt-4.1');
      await form.getByLabel('Tier').selectOption('specialized');
      await form.getByLabel('Provider').fill('openai');
      await form.getByLabel('Aliases').fill('gpt-4.1-2025-04-14, gpt-4.1-latest');
      await form.getByRole('button', { name: 'Save model' }).click();
      await expectText(page.getByTestId('model-message'), /^Saved gpt-4\.1 \(specialized\)\.$/);

      // Changed from its row: the form holds its provider and aliases, so a new tier keeps them (PUT replaces all).
      await page.getByRole('button', { name: 'Change gpt-4.1' }).click();
      await expectValue(form.getByLabel('Aliases'), 'gpt-4.1-2025-04-14, gpt-4.1-latest');
      await expectText(form, /In the catalog: saving replaces its tier, provider and aliases/);
      await form.getByLabel('Tier').selectOption('premier');
      await form.getByRole('button', { name: 'Save model' }).click();
      await expectText(page.getByTestId('model-message'), /^Saved gpt-4\.1 \(premier\)\.$/);
      expect(await api('GET', '/v1/models/gpt-4.1', sales)).toMatchObject({ tier: 'premier', provider: 'openai', aliases: ['gpt-4.1-2025-04-14', 'gpt-4.1-latest'] });
      expect(writes).toHaveLength(2);
    } finally {
      await page.close();
    }
  }, 120_000);
});
