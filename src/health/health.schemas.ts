// Response bodies of the operations routes, as JSON schemas (OpenAPI and types alike).
import { named } from '../http/openapi.js';

export const LivenessSchema = named('Liveness', {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { type: 'string', enum: ['ok'] } },
} as const);

const checkSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['status'],
  properties: { status: { type: 'string', enum: ['ok', 'down'] }, error: { type: 'string', description: 'Why it is down' } },
} as const;

export const ReadinessSchema = named('Readiness', {
  type: 'object',
  additionalProperties: false,
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok', 'unavailable'] },
    checks: {
      type: 'object',
      additionalProperties: false,
      required: ['database'],
      properties: { database: checkSchema, redis: { ...checkSchema, description: 'Only when REDIS_URL is set' } },
    },
  },
} as const);

export const PrometheusTextSchema = { type: 'string', description: 'Prometheus text exposition format 0.0.4' } as const;
