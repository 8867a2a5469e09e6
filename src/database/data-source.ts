// Builds the TypeORM data source over `pg` for either store. `synchronize` is never on: the schema is
// what `migrations/` says, applied at start and by `npm run migration:run`.
import { DataSource, type EntityManager } from 'typeorm';
import { migrations } from '../../migrations/index.js';
import { startEmbeddedStore, type EmbeddedStore } from './embedded-store.js';

export type Tx = EntityManager;

export interface OpenDatabase {
  dataSource: DataSource;
  embedded: EmbeddedStore | null;
  close(): Promise<void>;
}

export interface DatabaseTarget {
  /** A postgres:// URL, or null for the embedded store under `dataDir`. */
  url: string | null;
  dataDir: string;
  /** A `memory://` embedded store starts from this dump (EmbeddedStore.dump); tests only. */
  template?: string | null;
  poolSize?: number;
}

export function createDataSource(url: string, poolSize: number): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    synchronize: false,
    migrationsRun: false,
    migrations,
    migrationsTableName: 'schema_migrations',
    entities: [],
    logging: false,
    extra: {
      max: poolSize,
      // Embedded mode has one connection: a caller waiting longer than this is stuck, not slow.
      connectionTimeoutMillis: 30_000,
      idleTimeoutMillis: 0,
    },
  });
}

export async function openDatabase(target: DatabaseTarget): Promise<OpenDatabase> {
  const embedded = target.url === null ? await startEmbeddedStore(target.dataDir, target.template ?? null) : null;
  const url = target.url ?? embedded!.url;
  const dataSource = createDataSource(url, embedded ? 1 : (target.poolSize ?? 10));
  try {
    await dataSource.initialize();
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  return {
    dataSource,
    embedded,
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
      await embedded?.stop();
    },
  };
}

export async function runMigrations(dataSource: DataSource): Promise<string[]> {
  const applied = await dataSource.runMigrations({ transaction: 'each' });
  return applied.map((m) => m.name);
}
