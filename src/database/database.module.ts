// Owns the connection to PostgreSQL (real or embedded): opened and migrated at start, closed last.
import { Global, Inject, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { ShutdownReport } from '../lifecycle/shutdown-report.js';
import { openDatabase, runMigrations, type OpenDatabase } from './data-source.js';
import { TransactionRunner } from './transactions.js';

export const OPEN_DATABASE = Symbol('OPEN_DATABASE');

class DatabaseLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(OPEN_DATABASE) private readonly db: OpenDatabase,
    private readonly shutdown: ShutdownReport,
  ) {}
  async onApplicationShutdown(): Promise<void> {
    await this.shutdown.step('database', { store: this.db.embedded ? 'embedded' : 'postgresql' }, () => this.db.close());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: OPEN_DATABASE,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig): Promise<OpenDatabase> => {
        const logger = new Logger('database');
        const db = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, template: config.embeddedTemplate });
        const applied = await runMigrations(db.dataSource);
        logger.log(
          `${db.embedded ? `embedded store at ${config.dataDir}` : 'PostgreSQL'} ready` +
            (applied.length ? `; applied ${applied.join(', ')}` : ''),
        );
        return db;
      },
    },
    { provide: DataSource, inject: [OPEN_DATABASE], useFactory: (db: OpenDatabase) => db.dataSource },
    DatabaseLifecycle,
    TransactionRunner,
  ],
  exports: [DataSource, OPEN_DATABASE, TransactionRunner],
})
export class DatabaseModule {}
