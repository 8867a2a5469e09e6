// SIGTERM or SIGINT closes the process gracefully: one log line when the shutdown starts, one when it
// ends with what it waited for (requests in flight, jobs, live streams, Redis, the database), and an exit
// if it takes longer than TOKENMETER_SHUTDOWN_TIMEOUT_MS.
import { constants } from 'node:os';
import type { INestApplicationContext } from '@nestjs/common';
import { ShutdownReport } from './shutdown-report.js';

export interface ShutdownLogger {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** `first`: what closes before the app does (a worker's probe listener). */
export function closeOnSignals(app: INestApplicationContext, logger: ShutdownLogger, timeoutMs: number, first?: () => Promise<void>): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    const report = app.get(ShutdownReport);
    const started = performance.now();
    logger.info({ signal, requests_in_flight: report.requestsInFlight, timeout_ms: timeoutMs }, 'shutdown started');
    setTimeout(() => {
      logger.error({ signal, timeout_ms: timeoutMs, waited: report.waited() }, 'shutdown took longer than allowed; exiting');
      process.exit(1);
    }, timeoutMs).unref();
    (first ?? (() => Promise.resolve()))().then(() => app.close()).then(
      () => {
        logger.info({ signal, duration_ms: Math.round(performance.now() - started), waited: report.waited() }, 'shutdown finished');
        // The status a process killed by the signal has (143 for SIGTERM). The process then ends on its
        // own, once pino's asynchronous write of the line above is done; or, if something was left open,
        // shortly after (exit flushes pino too).
        process.exitCode = 128 + (constants.signals[signal] ?? 0);
        setTimeout(() => process.exit(), 500).unref();
      },
      (error: unknown) => {
        logger.error({ signal, err: error, waited: report.waited() }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
}
