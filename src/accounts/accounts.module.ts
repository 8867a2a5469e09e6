// Customer accounts and the org tree: units, people (with their unit history) and agents.
import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module.js';
import { KeyCacheModule } from '../auth/key-cache.js';
import { AccountsController } from './accounts.controller.js';
import { AccountsRepository } from './accounts.repository.js';
import { AccountsService } from './accounts.service.js';

@Module({
  imports: [AuditModule, KeyCacheModule],
  controllers: [AccountsController],
  providers: [AccountsRepository, AccountsService],
  exports: [AccountsRepository, AccountsService],
})
export class AccountsModule {}
