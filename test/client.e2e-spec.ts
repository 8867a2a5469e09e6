// The typed client cannot drift from the service: client/schema.ts must be exactly what openapi-typescript
// makes of the document the running service serves at /docs-json (`npm run client:generate` rewrites it).
import { readFileSync } from 'node:fs';
import { renderSchema } from '../client/render-schema.js';
import { startTestApp, type TestApp } from './support/test-app.js';

const checkedIn = () => readFileSync(new URL('../client/schema.ts', import.meta.url), 'utf8');

describe('the typed client (client/)', () => {
  let t: TestApp;
  let doc: Record<string, any>;
  beforeAll(async () => {
    t = await startTestApp();
    doc = (await t.get('/docs-json', null)).body;
  }, 120_000);
  afterAll(async () => {
    await t?.close();
  });

  it('is generated from the document the service serves (run `npm run client:generate` when this fails)', async () => {
    expect(await renderSchema(doc)).toBe(checkedIn());
  });

  it('would notice a changed route: a document with one more field renders differently', async () => {
    const changed = structuredClone(doc);
    const account = changed.components.schemas.Account;
    account.properties = { ...account.properties, probe_field: { type: 'string' } };
    const rendered = await renderSchema(changed);
    expect(rendered).not.toBe(checkedIn());
    expect(rendered).toContain('probe_field');
  });
});
