// `npm run rebuild [-- <account>]`: recompute labels and rollups from raw events (stop the service first
// when on the embedded store, which belongs to one process).
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module.js';
import { systemClock } from '../../src/clock/clock.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { createPino, PinoNestLogger } from '../../src/logging.js';
import { RebuildService } from './rebuild.service.js';

async function main(): Promise<void> {
  // eslint-disable-next-line no-restricted-properties -- a CLI entry point, like src/main.ts
  const config = { ...loadConfig(process.env), apiRunsJobs: false };
  const app = await NestFactory.createApplicationContext(AppModule.forRoot({ config, clock: systemClock, role: 'api' }), {
    logger: new PinoNestLogger(createPino(config.logLevel).child({ component: 'rebuild' })),
  });
  try {
    const report = await app.get(RebuildService).rebuild(process.argv[2]);
    console.log(JSON.stringify(report));
  } finally {
    await app.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? `tokenmeter: configuration error: ${error.message}` : error);
  process.exit(1);
});
