// The shell of a maintenance command (`npm run rebuild`, `npm run compact`): the application without its
// HTTP server or job workers, one piece of work, its report printed as JSON, a configuration or domain
// error in one line, and a non-zero exit on failure.
import 'reflect-metadata';
import type { INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { AppModule } from './app.module.js';
import { systemClock } from './clock/clock.js';
import { ConfigError, loadConfig } from './config/config.js';
import { EmbeddedStoreInUseError } from './database/embedded-store.js';
import { DomainError } from './http/domain-error.js';
import { createPino, PinoNestLogger } from './logging.js';

/** A bad argument: the problem and the usage on stderr, exit 2 (before any work). */
export function usageError(component: string, usage: string, problem: string): never {
  console.error(`tokenmeter ${component}: ${problem}\n${usage}`);
  process.exit(2);
}

export function runMaintenance(component: string, work: (app: INestApplicationContext) => Promise<unknown>): void {
  main(component, work).catch((error: unknown) => {
    if (error instanceof ConfigError) console.error(`tokenmeter: configuration error: ${error.message}`);
    else if (error instanceof DomainError) console.error(`tokenmeter ${component}: ${error.message} (${error.code})`);
    else if (error instanceof EmbeddedStoreInUseError) console.error(`tokenmeter ${component}: ${error.message}`);
    else console.error(error);
    process.exit(1);
  });
}

async function main(component: string, work: (app: INestApplicationContext) => Promise<unknown>): Promise<void> {
  // eslint-disable-next-line no-restricted-properties -- a CLI entry point, like src/main.ts
  const config = { ...loadConfig(process.env), apiRunsJobs: false };
  const app = await NestFactory.createApplicationContext(AppModule.forRoot({ config, clock: systemClock, role: 'api' }), {
    // A failure at start (the embedded store in use, PostgreSQL unreachable) reaches runMaintenance's one
    // line instead of Nest exiting on its own.
    abortOnError: false,
    logger: new PinoNestLogger(createPino(config.logLevel).child({ component })),
  });
  try {
    console.log(JSON.stringify(await work(app)));
  } finally {
    await app.close();
  }
}
