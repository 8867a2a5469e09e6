// HTTP for the model catalog. Thin: check the body, call the service, return what it returns.
import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import { actorOf, type Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, Fails, Responds } from '../../src/http/openapi.js';
import { SchemaPipe, slugParam } from '../../src/http/validation.js';
import type { Model } from './models.repository.js';
import { ModelListSchema, modelNameSchema, ModelSchema, putModelSchema, ResolvedModelSchema, type PutModelBody } from './models.schemas.js';
import { ModelsService, type ResolvedModel } from './models.service.js';

const MODEL_NAME = new RegExp(modelNameSchema.pattern);

function modelNameParam(value: string): string {
  if (typeof value !== 'string' || value.length > modelNameSchema.maxLength || !MODEL_NAME.test(value)) {
    throw new RequestError('invalid_id', 'Path parameter "model" must be a model name of at most 200 characters.', { field: 'model' });
  }
  return value;
}

@ApiTags('models')
@Controller('v1/models')
export class ModelsController {
  constructor(private readonly models: ModelsService) {}

  @Put(':model')
  @Allow('admin', 'sales')
  @ApiOperation({ summary: 'Create or replace a catalog model (tier, provider, aliases); audited' })
  @ApiJsonBody(putModelSchema)
  @Responds(200, ModelSchema)
  @Fails(409)
  put(
    @CurrentPrincipal() p: Principal,
    @Param('model', slugParam('model')) model: string,
    @Body(new SchemaPipe(putModelSchema)) body: PutModelBody,
  ): Promise<Model> {
    return this.models.put(actorOf(p), model, body);
  }

  @Get()
  @Allow('admin', 'sales', 'finance', 'member')
  @ApiOperation({ summary: 'The model catalog' })
  @Responds(200, ModelListSchema)
  async list(): Promise<{ data: Model[] }> {
    return { data: await this.models.list() };
  }

  @Get(':model')
  @Allow('admin', 'sales', 'finance', 'member')
  @ApiOperation({
    summary: 'A model by id, alias or dated snapshot name',
    description:
      'Resolution order: exact id, exact alias, then one trailing dated-snapshot suffix (-YYYY-MM-DD, -YYYYMMDD, @YYYYMMDD, a real date) stripped and retried as id then alias. Case-sensitive. A resolved answer names `requested_name` and `matched_by`.',
  })
  @Responds(200, { oneOf: [ModelSchema, ResolvedModelSchema] })
  @Fails(404)
  get(@Param('model') model: string): Promise<Model | ResolvedModel> {
    return this.models.get(modelNameParam(model));
  }
}
