// Readiness: the database and, when configured, Redis answer within 2 s. One place for the API's
// `GET /health/ready` and a worker's probe listener (src/health/probe-server.ts).
import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { Body } from '../http/openapi.js';
import { JobsService } from '../jobs/jobs.service.js';
import type { ReadinessSchema } from './health.schemas.js';

export type Readiness = Body<typeof ReadinessSchema>;
type Check = Readiness['checks']['database'];

async function check(probe: () => Promise<unknown>): Promise<Check> {
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 2s')), 2000).unref()),
    ]);
    return { status: 'ok' };
  } catch (error) {
    return { status: 'down', error: error instanceof Error ? error.message : 'unreachable' };
  }
}

@Injectable()
export class HealthChecks {
  constructor(
    private readonly dataSource: DataSource,
    private readonly jobs: JobsService,
  ) {}

  /** `ok` when every check is; the caller answers 503 otherwise. */
  async readiness(): Promise<Readiness> {
    const checks: Readiness['checks'] = { database: await check(() => this.dataSource.query('SELECT 1')) };
    if (this.jobs.backendKind === 'redis') checks.redis = await check(() => this.jobs.ping());
    const ok = Object.values(checks).every((c) => c.status === 'ok');
    return { status: ok ? 'ok' : 'unavailable', checks };
  }
}
