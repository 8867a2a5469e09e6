// Liveness, readiness (database and, when configured, Redis) and Prometheus metrics; no key needed.
import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/access.decorators.js';
import { RequestError } from '../http/domain-error.js';
import { ErrorSchema, Responds } from '../http/openapi.js';
import { HealthChecks, type Readiness } from './health-checks.js';
import { LivenessSchema, PrometheusTextSchema, ReadinessSchema } from './health.schemas.js';
import { Metrics } from './metrics.js';

@ApiTags('operations')
@Controller()
@Public()
export class HealthController {
  constructor(
    private readonly checks: HealthChecks,
    private readonly metrics: Metrics,
  ) {}

  @Get('health/live')
  @ApiOperation({ summary: 'The process is up' })
  @Responds(200, LivenessSchema)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @ApiOperation({ summary: 'The database (and Redis, when configured) answer' })
  @Responds(200, ReadinessSchema)
  // A failed check answers 503 with the same body; a process shutting down answers 503 with an error.
  @Responds(503, { anyOf: [ReadinessSchema, ErrorSchema] }, { description: 'A check is down, or the process is shutting down' })
  async ready(@Res({ passthrough: true }) reply: FastifyReply): Promise<Readiness> {
    const readiness = await this.checks.readiness();
    if (readiness.status !== 'ok') void reply.status(503);
    return readiness;
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics' })
  @Responds(200, PrometheusTextSchema, { contentType: 'text/plain' })
  async metricsText(): Promise<string> {
    try {
      return await this.metrics.registry.metrics();
    } catch {
      throw new RequestError('metrics_unavailable', 'Metrics could not be collected; try again.', {}, 'unavailable');
    }
  }
}
