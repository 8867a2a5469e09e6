// The audit log for operators: rows page by page, with a verification of the whole chain.
import { Controller, Get, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Allow } from '../auth/access.decorators.js';
import { RequestError } from '../http/domain-error.js';
import { ApiJsonQuery, Responds } from '../http/openapi.js';
import { parameterNames, parseLimit, SchemaPipe } from '../http/validation.js';
import type { AuditRow, ChainVerification } from './audit-chain.js';
import { AuditPageSchema, auditQuerySchema } from './audit.schemas.js';
import { AuditService } from './audit.service.js';

@ApiTags('audit')
@Controller('v1/audit')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @Allow('admin')
  @ApiOperation({ summary: 'Audit rows after `after_seq`, and whether the hash chain holds' })
  @ApiJsonQuery(auditQuerySchema)
  @Responds(200, AuditPageSchema)
  async list(
    @Query(new SchemaPipe(parameterNames(auditQuerySchema)))
    { after_seq: afterSeq, limit, account, entity_type: entityType }: { after_seq?: string; limit?: string; account?: string; entity_type?: string },
  ): Promise<{ data: AuditRow[]; next_after_seq: number | null; verification: ChainVerification }> {
    if (afterSeq !== undefined && !/^\d{1,15}$/.test(afterSeq)) {
      throw new RequestError('invalid_value', 'Query parameter "after_seq" must be a whole number.', { field: 'after_seq' });
    }
    const pageSize = parseLimit(limit, 100, 1000);
    const data = await this.audit.list({
      afterSeq: afterSeq === undefined ? 0 : Number(afterSeq),
      limit: pageSize,
      accountId: account,
      entityType,
    });
    return {
      data,
      next_after_seq: data.length === pageSize ? data[data.length - 1]!.seq : null,
      verification: await this.audit.verify(),
    };
  }
}
