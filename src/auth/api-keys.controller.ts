import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from './access.decorators.js';
import {
  ApiKeyListSchema,
  ApiKeySchema,
  createApiKeySchema,
  IssuedApiKeySchema,
  listApiKeysQuerySchema,
  type CreateApiKeyBody,
} from './api-keys.schemas.js';
import { ApiKeysService, type ApiKeyView } from './api-keys.service.js';
import type { Principal } from './principal.js';
import { ApiJsonBody, ApiJsonQuery, Fails, Responds } from '../http/openapi.js';
import { parameterNames, SchemaPipe, SlugPipe } from '../http/validation.js';
import { RequestError } from '../http/domain-error.js';

@ApiTags('api-keys')
@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @Allow('admin', 'member')
  @ApiOperation({ summary: 'Issue a key; the answer holds the secret, once' })
  @ApiJsonBody(createApiKeySchema)
  @Responds(201, IssuedApiKeySchema)
  @Fails(404)
  create(
    @CurrentPrincipal() p: Principal,
    @Body(new SchemaPipe(createApiKeySchema)) body: CreateApiKeyBody,
  ): Promise<ApiKeyView & { secret: string }> {
    return this.keys.create(p, body);
  }

  @Get()
  @Allow('admin', 'member')
  @ApiOperation({
    summary: 'List keys (never their secrets), oldest first: an admin every key or those bound to one account; a member the keys of their own agents',
  })
  @ApiJsonQuery(listApiKeysQuerySchema)
  @Responds(200, ApiKeyListSchema)
  @Fails(404)
  async list(
    @CurrentPrincipal() p: Principal,
    @Query(new SchemaPipe(parameterNames(listApiKeysQuerySchema))) { account }: { account?: string },
  ): Promise<{ data: ApiKeyView[] }> {
    if (account !== undefined) new SlugPipe('account', 'Query parameter').transform(account);
    return { data: await this.keys.list(p, account ?? null) };
  }

  @Get('current')
  @Allow('admin', 'sales', 'finance', 'member', 'agent')
  @ApiOperation({
    summary: 'The key making this request: its role and what it is bound to',
    description: 'How a client (the console, the CLI) learns which account and person a pasted key reads.',
  })
  @Responds(200, ApiKeySchema)
  current(@CurrentPrincipal() p: Principal): Promise<ApiKeyView> {
    return this.keys.current(p);
  }

  @Delete(':id')
  @Allow('admin', 'member')
  @ApiOperation({ summary: 'Revoke a key: it stops working at once' })
  @Responds(200, ApiKeySchema)
  @Fails(404)
  revoke(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<ApiKeyView> {
    if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) {
      throw new RequestError('invalid_id', 'Path parameter "id" is not a key id.', { field: 'id' });
    }
    return this.keys.revoke(p, id);
  }
}
