// The budget rows and the org tree they rest on, one instance each for the budgets module and for the
// accounts' port (org-budgets.module.ts).
import { Module } from '@nestjs/common';
import { BudgetsRepository } from './budgets.repository.js';
import { OrgTrees } from './org-trees.js';

@Module({
  providers: [BudgetsRepository, OrgTrees],
  exports: [BudgetsRepository, OrgTrees],
})
export class BudgetsDataModule {}
