// HTTP for price books: publish a version, read the history or the version in force at an instant.
import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import { actorOf, type Principal } from '../../src/auth/principal.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, ApiJsonQuery, Fails, Responds } from '../../src/http/openapi.js';
import { parameterNames, parseLimit, SchemaPipe } from '../../src/http/validation.js';
import type { PriceBookRow } from './price-books.repository.js';
import {
  createPriceBookSchema,
  listPriceBooksQuerySchema,
  PriceBookListSchema,
  PriceBookSchema,
  type CreatePriceBookBody,
} from './price-books.schemas.js';
import { PriceBooksService } from './price-books.service.js';
import { Idempotent } from '../../src/http/idempotency/idempotent.decorator.js';

function wholeNumber(raw: string, name: string): number {
  if (!/^\d{1,9}$/.test(raw)) {
    throw new RequestError('invalid_value', `"${name}" must be a whole number.`, { field: name });
  }
  return Number(raw);
}

@ApiTags('price-books')
@Controller('v1/price-books')
export class PriceBooksController {
  constructor(private readonly books: PriceBooksService) {}

  @Post()
  @Idempotent()
  @Allow('admin', 'sales')
  @ApiOperation({
    summary: 'Publish a new immutable price-book version',
    description:
      'Prices per 1,000,000 tokens per token kind per tier, per-model overrides, optional long-context rates; decimal strings. ' +
      'An effective_from before now is refused (409 effective_from_in_past) unless "correction": true, which is audited. ' +
      'Per-model rates name catalog models by id; any other name (a typo, an alias) is refused (400 unknown_model, naming its field).',
  })
  @ApiJsonBody(createPriceBookSchema)
  @Responds(201, PriceBookSchema)
  @Fails(409)
  create(@CurrentPrincipal() p: Principal, @Body(new SchemaPipe(createPriceBookSchema)) body: CreatePriceBookBody): Promise<PriceBookRow> {
    return this.books.create(actorOf(p), body);
  }

  @Get()
  @Allow('admin', 'sales', 'finance', 'member')
  @ApiOperation({ summary: 'Price-book versions in order (paged with `after`), or with `at` only the version in force then' })
  @ApiJsonQuery(listPriceBooksQuerySchema)
  @Responds(200, PriceBookListSchema)
  async list(
    @Query(new SchemaPipe(parameterNames(listPriceBooksQuerySchema))) { after, limit, at }: { after?: string; limit?: string; at?: string },
  ): Promise<{ data: PriceBookRow[] }> {
    if (at !== undefined) {
      const book = await this.books.inForceAt(at);
      return { data: book ? [book] : [] };
    }
    return { data: await this.books.list(after === undefined ? 0 : wholeNumber(after, 'after'), parseLimit(limit, 100, 1000)) };
  }

  @Get(':version')
  @Allow('admin', 'sales', 'finance', 'member')
  @ApiOperation({ summary: 'One price-book version' })
  @Responds(200, PriceBookSchema)
  @Fails(404)
  get(@Param('version') version: string): Promise<PriceBookRow> {
    return this.books.get(wholeNumber(version, 'version'));
  }
}
