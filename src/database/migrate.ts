// `npm run migration:run`: applies pending migrations to DATABASE_URL, or to the embedded store
// (refused while a service has it open: the embedded store belongs to one process at a time).
import { ConfigError, loadConfig } from '../config/config.js';
import { openDatabase, runMigrations } from './data-source.js';
import { EmbeddedStoreInUseError } from './embedded-store.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir });
  try {
    const applied = await runMigrations(db.dataSource);
    console.log(applied.length ? `applied: ${applied.join(', ')}` : 'nothing to apply');
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof EmbeddedStoreInUseError ? `tokenmeter: ${error.message}` : error);
  process.exit(1);
});
