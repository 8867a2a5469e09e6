// HTTP for invoices: an account's invoices, closing its ended periods, the preview of the open one, and
// one invoice as JSON, CSV or a printable page; finalize, pay and void by hand. Thin: check, call, format.
import { Body, Controller, Get, Headers, Param, Post, Query, Res, type PipeTransform } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Allow, CurrentPrincipal } from '../../src/auth/access.decorators.js';
import type { Principal } from '../../src/auth/principal.js';
import { AccountsRepository } from '../../src/accounts/accounts.repository.js';
import { RequestError } from '../../src/http/domain-error.js';
import { ApiJsonBody, ApiJsonQuery, Fails, Responds } from '../../src/http/openapi.js';
import { parseLimit, SchemaPipe, slugParam, type JsonSchema } from '../../src/http/validation.js';
import { wantsCsv } from '../../metering/readings/csv.js';
import { invoiceCsv, invoiceHtml } from './invoice-view.js';
import {
  closeInvoicesSchema,
  InvoiceCsvSchema,
  InvoiceHtmlSchema,
  invoiceListSchema,
  invoicePreviewSchema,
  invoiceQuerySchema,
  invoiceSchema,
  listInvoicesQuerySchema,
  voidInvoiceSchema,
  type CloseInvoicesBody,
  type VoidInvoiceBody,
} from './invoices.schemas.js';
import { InvoicesService, type InvoicePreview, type InvoiceSummary, type InvoiceView } from './invoices.service.js';
import { Idempotent } from '../../src/http/idempotency/idempotent.decorator.js';

class InvoiceIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (typeof value !== 'string' || !/^inv_[0-9a-f]{24}$/.test(value)) {
      throw new RequestError('invalid_id', 'Path parameter "id" is not an invoice id.', { field: 'id' });
    }
    return value;
  }
}

function wantsHtml(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => part.split(';')[0]!.trim().toLowerCase() === 'text/html');
}

/** The listing's query as it arrives: `before` checked by the schema, `limit` a string parseLimit checks as every listing does. */
const LIST_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: { before: listInvoicesQuerySchema.properties.before, limit: { type: 'string' } },
} as const satisfies JsonSchema;

@ApiTags('invoices')
@Controller('v1')
export class InvoicesController {
  constructor(
    private readonly invoices: InvoicesService,
    private readonly accounts: AccountsRepository,
  ) {}

  @Get('accounts/:account/invoices')
  @Allow('admin', 'sales', 'finance')
  @ApiOperation({ summary: "The account's invoices, newest period first (without lines)" })
  @ApiJsonQuery(listInvoicesQuerySchema)
  @Responds(200, invoiceListSchema)
  list(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Query(new SchemaPipe(LIST_QUERY)) query: { before?: string; limit?: string },
  ): Promise<{ data: InvoiceSummary[]; next_before: string | null }> {
    return this.invoices.list(p, account, query.before === undefined ? null : new Date(query.before), parseLimit(query.limit, 24, 100));
  }

  @Post('accounts/:account/invoices/close')
  @Idempotent()
  @Allow('admin', 'sales', 'finance')
  @ApiOperation({
    summary: 'Close every ended billing period without an invoice; answers the newest invoice',
    description:
      'Each period becomes a draft that is finalized after the plan’s grace period (`invoice_grace_minutes`, default 60), or at once with `finalize: true` ' +
      '(which also finalizes a draft that is still in its grace period). A period is never closed twice: when no period ' +
      'ended since the last close, the newest invoice is answered. Errors: 409 `nothing_to_close` (no period has ended ' +
      'yet), `no_subscription`.',
  })
  @ApiJsonBody(closeInvoicesSchema)
  @Responds(201, invoiceSchema)
  @Responds(200, invoiceSchema, { description: 'No period ended since the last close: the newest invoice (finalized now with `finalize: true`)' })
  @Fails(409)
  async close(
    @CurrentPrincipal() p: Principal,
    @Param('account', slugParam('account')) account: string,
    @Body(new SchemaPipe(closeInvoicesSchema)) body: CloseInvoicesBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InvoiceView> {
    const { invoice, closed } = await this.invoices.closeByHand(p, account, body.finalize ?? false);
    void reply.status(closed ? 201 : 200);
    return invoice;
  }

  @Get('accounts/:account/invoices/upcoming')
  @Allow('admin', 'sales', 'finance')
  @ApiOperation({ summary: "The open period's invoice as it would be if closed now (adjustments of earlier periods included); nothing is written" })
  @Responds(200, invoicePreviewSchema)
  @Fails(409)
  upcoming(@CurrentPrincipal() p: Principal, @Param('account', slugParam('account')) account: string): Promise<InvoicePreview> {
    return this.invoices.upcoming(p, account);
  }

  @Get('invoices/:id')
  @Allow('admin', 'sales', 'finance')
  @ApiOperation({
    summary: 'One invoice: its lines, the usage behind each line by tier, model and label, its Stripe mirror',
    description: '`Accept: text/csv` (or `format=csv`) answers CSV; `Accept: text/html` (or `format=html`) a printable page.',
  })
  @ApiJsonQuery(invoiceQuerySchema)
  @Responds(200, invoiceSchema, { alternatives: { 'text/csv': InvoiceCsvSchema, 'text/html': InvoiceHtmlSchema } })
  @Fails(404)
  async get(
    @CurrentPrincipal() p: Principal,
    @Param('id', new InvoiceIdPipe()) id: string,
    @Query(new SchemaPipe(invoiceQuerySchema)) query: { format?: 'json' | 'csv' | 'html' },
    @Headers('accept') accept: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<InvoiceView | string> {
    const invoice = await this.invoices.get(p, id);
    const format = query.format ?? (wantsCsv(accept) ? 'csv' : wantsHtml(accept) ? 'html' : 'json');
    if (format === 'csv') {
      void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="invoice-${invoice.number}.csv"`);
      return invoiceCsv(invoice);
    }
    if (format === 'html') {
      const account = await this.accounts.findAccount(invoice.account);
      void reply.header('content-type', 'text/html; charset=utf-8');
      return invoiceHtml(invoice, account?.name ?? invoice.account);
    }
    return invoice;
  }

  @Post('invoices/:id/finalize')
  @Idempotent()
  @Allow('admin', 'sales', 'finance')
  @ApiOperation({
    summary: 'Finalize a draft now, before its grace period ends; a finalized invoice is answered as it is',
    description: 'Audited as `invoice.finalize` (who, and the invoice before and after) when it finalizes the draft.',
  })
  @Responds(200, invoiceSchema)
  @Fails(404)
  finalize(@CurrentPrincipal() p: Principal, @Param('id', new InvoiceIdPipe()) id: string): Promise<InvoiceView> {
    return this.invoices.finalizeByHand(p, id);
  }

  @Post('invoices/:id/pay')
  @Idempotent()
  @Allow('admin', 'sales')
  @ApiOperation({
    summary: 'Mark a finalized invoice paid (a payment received outside Stripe); Errors: 409 `invoice_not_payable`',
    description: 'Audited as `invoice.pay` (who, and the invoice before and after) when it marks the invoice paid.',
  })
  @Responds(200, invoiceSchema)
  @Fails(404, 409)
  pay(@CurrentPrincipal() p: Principal, @Param('id', new InvoiceIdPipe()) id: string): Promise<InvoiceView> {
    return this.invoices.payByHand(p, id);
  }

  @Post('invoices/:id/void')
  @Idempotent()
  @Allow('admin', 'sales')
  @ApiOperation({
    summary: 'Void a finalized, unpaid invoice: the credits it used are restored and its Stripe invoice is voided; Errors: 409 `invoice_not_voidable`',
    description: 'Audited as `invoice.void` (who, and the invoice before and after) when it voids the invoice.',
  })
  @ApiJsonBody(voidInvoiceSchema)
  @Responds(200, invoiceSchema)
  @Fails(404, 409)
  void(
    @CurrentPrincipal() p: Principal,
    @Param('id', new InvoiceIdPipe()) id: string,
    @Body(new SchemaPipe(voidInvoiceSchema)) body: VoidInvoiceBody,
  ): Promise<InvoiceView> {
    return this.invoices.voidInvoice(p, id, body.reason ?? null);
  }
}
