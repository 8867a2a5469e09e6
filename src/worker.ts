// `npm run worker`: a process that only consumes jobs (REDIS_URL set). No HTTP listener.
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { ConfigError, loadConfig } from './config/config.js';
import { systemClock } from './clock/clock.js';
import { closeOnSignals } from './lifecycle/shutdown.js';
import { createPino, PinoNestLogger } from './logging.js';

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  if (config.redisUrl === null) {
    throw new ConfigError('REDIS_URL', 'must be set for a worker; without Redis, `npm start` runs jobs itself');
  }
  const pino = createPino(config.logLevel).child({ component: 'worker' });
  const app = await NestFactory.createApplicationContext(AppModule.forRoot({ config, clock: systemClock, role: 'worker' }), {
    abortOnError: false,
    logger: new PinoNestLogger(pino),
  });
  await app.init();
  closeOnSignals(app, pino.child({ component: 'shutdown' }), config.shutdownTimeoutMs);
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError ? `tokenmeter: configuration error: ${error.message}` : `tokenmeter worker failed: ${String(error)}`,
  );
  process.exit(1);
});
