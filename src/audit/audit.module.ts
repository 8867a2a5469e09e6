// The append-only, hash-chained audit log: every change to configuration, budgets, keys and roles, and
// the invoice actions a person takes by hand (finalize, pay, void).
import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller.js';
import { AuditRepository } from './audit.repository.js';
import { AuditService } from './audit.service.js';

@Module({
  controllers: [AuditController],
  providers: [AuditRepository, AuditService],
  exports: [AuditService],
})
export class AuditModule {}
