// API keys and the guard that admits every request: roles, account scoping, agent-owner limits.
import { Module, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { AccountsModule } from '../accounts/accounts.module.js';
import { AuditModule } from '../audit/audit.module.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { AuthGuard } from './auth.guard.js';
import { KeyCacheModule } from './key-cache.js';

@Module({
  imports: [AccountsModule, AuditModule, KeyCacheModule],
  controllers: [ApiKeysController],
  providers: [ApiKeysRepository, ApiKeysService, AuthGuard, { provide: APP_GUARD, useExisting: AuthGuard }],
  exports: [ApiKeysService, AuthGuard],
})
export class AuthModule implements OnApplicationBootstrap {
  constructor(private readonly keys: ApiKeysService) {}
  async onApplicationBootstrap(): Promise<void> {
    await this.keys.ensureAdminKey();
  }
}
