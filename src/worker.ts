// `npm run worker`: a process that only consumes jobs (REDIS_URL set). No API; with TOKENMETER_WORKER_PORT,
// a small listener for its probes and /metrics (src/health/probe-server.ts).
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { ConfigError, loadConfig } from './config/config.js';
import { systemClock } from './clock/clock.js';
import { listenForProbes, type ProbeServer } from './health/probe-server.js';
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
  let probes: ProbeServer | null;
  try {
    probes = config.workerPort === null ? null : await listenForProbes(app, pino, config.host, config.workerPort);
  } catch (error) {
    await app.close().catch(() => undefined);
    throw new ConfigError('TOKENMETER_WORKER_PORT', `could not be listened on: ${error instanceof Error ? error.message : String(error)}`);
  }
  // The probes go first: a worker that is stopping takes no more scrapes while its jobs finish.
  closeOnSignals(app, pino.child({ component: 'shutdown' }), config.shutdownTimeoutMs, probes === null ? undefined : () => probes.close());
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError ? `tokenmeter: configuration error: ${error.message}` : `tokenmeter worker failed: ${String(error)}`,
  );
  process.exit(1);
});
