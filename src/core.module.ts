// What every module may inject: the validated configuration, the clock, this process's role and the
// shutdown report.
import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from './config/config.js';
import { CLOCK, type Clock } from './clock/clock.js';
import { ShutdownReport } from './lifecycle/shutdown-report.js';
import { PROCESS_ROLE, type ProcessRole } from './jobs/jobs.module.js';

@Global()
@Module({})
export class CoreModule {
  static forRoot(config: AppConfig, clock: Clock, role: ProcessRole): DynamicModule {
    return {
      module: CoreModule,
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: CLOCK, useValue: clock },
        { provide: PROCESS_ROLE, useValue: role },
        ShutdownReport,
      ],
      exports: [APP_CONFIG, CLOCK, PROCESS_ROLE, ShutdownReport],
    };
  }
}
