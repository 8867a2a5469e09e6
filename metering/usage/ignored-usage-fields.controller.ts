import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../../src/auth/access.decorators.js';
import { Responds } from '../../src/http/openapi.js';
import { IgnoredUsageFieldsRepository } from './ignored-usage-fields.repository.js';
import { IgnoredUsageFieldListSchema } from './ignored-usage-fields.schemas.js';

@ApiTags('metering')
@Controller('v1/ignored-usage-fields')
export class IgnoredUsageFieldsController {
  constructor(private readonly fields: IgnoredUsageFieldsRepository) {}

  @Get()
  @Allow('admin', 'sales')
  @ApiOperation({
    summary: 'Usage fields that events carried and tokenmeter accepted without counting (a provider\'s new field, say), by usage format',
  })
  @Responds(200, IgnoredUsageFieldListSchema)
  async list(): Promise<{ data: { path: string; format: string; events: number; first_seen: Date; last_seen: Date }[] }> {
    const rows = await this.fields.list();
    return { data: rows.map((r) => ({ path: r.path, format: r.format, events: Number(r.events), first_seen: r.first_seen, last_seen: r.last_seen })) };
  }
}
