import { newAccount, startTestApp, type TestApp } from './support/test-app.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('serves health and creates an account', async () => {
    expect((await t.get('/health/ready', null)).body).toMatchObject({ status: 'ok' });
    const account = await newAccount(t);
    expect((await t.get(`/v1/accounts/${account.id}`)).body).toMatchObject({ id: account.id, currency: 'EUR' });
  });
});
