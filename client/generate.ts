// `npm run client:generate`: builds the app in memory (embedded store, no port), reads the document it
// serves at /docs-json and writes client/schema.ts, the types the client is typed with.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApp } from '../src/bootstrap.js';
import { systemClock } from '../src/clock/clock.js';
import { loadConfig } from '../src/config/config.js';
import { renderSchema } from './render-schema.js';

/** The document the service serves, from an app started in memory for the purpose. */
export async function serviceDocument(): Promise<object> {
  const config = loadConfig({ LOG_LEVEL: 'silent', TOKENMETER_ADMIN_KEY: 'client-generate-admin-key-unused' });
  config.dataDir = 'memory://';
  const app = await createApp({ config, clock: systemClock, role: 'api' });
  try {
    const res = await app.inject({ method: 'GET', url: '/docs-json' });
    if (res.statusCode !== 200) throw new Error(`GET /docs-json answered ${res.statusCode}`);
    return res.json() as object;
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  // Sources, not the build output: dist/client/generate.js writes into the repository's client/.
  const dir = fileURLToPath(new URL('../../client/', import.meta.url));
  const doc = await serviceDocument();
  writeFileSync(`${dir}schema.ts`, await renderSchema(doc));
  console.log(`client: wrote ${dir}schema.ts`);
}

main().catch((error: unknown) => {
  console.error('client:generate failed:', error);
  process.exit(1);
});
