// `npm start`: the API process. With no configuration it runs alone on the embedded store and consumes
// jobs itself; with DATABASE_URL and REDIS_URL it is one stateless process among many.
import { ConfigError, loadConfig, type AppConfig } from './config/config.js';
import { systemClock } from './clock/clock.js';
import { appLogger, createApp } from './bootstrap.js';
import { closeOnSignals } from './lifecycle/shutdown.js';

async function main(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`tokenmeter: configuration error: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const app = await createApp({ config, clock: systemClock, role: 'api' });
  await app.listen({ port: config.port, host: config.host });
  closeOnSignals(app, appLogger(app).child({ component: 'shutdown' }), config.shutdownTimeoutMs);
}

main().catch((error: unknown) => {
  console.error('tokenmeter: failed to start:', error instanceof Error ? error.message : error);
  process.exit(1);
});
