import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../../src/auth/access.decorators.js';
import { Responds } from '../../src/http/openapi.js';
import { RepricingRepository } from './repricing.repository.js';
import { UnpricedModelListSchema } from './unpriced.schemas.js';

@ApiTags('metering')
@Controller('v1/unpriced-models')
export class UnpricedController {
  constructor(private readonly repricing: RepricingRepository) {}

  @Get()
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Reported models with events waiting for a catalog entry or a price; they are priced once it exists' })
  @Responds(200, UnpricedModelListSchema)
  async list(): Promise<{ data: { model: string; events: number; accounts: number; first_seen: Date; last_seen: Date }[] }> {
    const rows = await this.repricing.unpricedModels();
    return {
      data: rows.map((r) => ({ model: r.model_name, events: Number(r.events), accounts: Number(r.accounts), first_seen: r.first_seen, last_seen: r.last_seen })),
    };
  }
}
