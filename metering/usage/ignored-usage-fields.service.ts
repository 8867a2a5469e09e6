// Makes the usage fields ingest accepted but did not count visible: counted on /metrics and added to the
// operators' listing, once per ingest request that stored events carrying any (most carry none).
import { Injectable, Logger } from '@nestjs/common';
import { Metrics } from '../../src/health/metrics.js';
import { IgnoredUsageFieldsRepository, type IgnoredUsageFieldCount } from './ignored-usage-fields.repository.js';

/** Distinct (format, field) label pairs a process gives their own series; later ones share `field="other"`. */
const MAX_LABELLED_FIELDS = 200;

export interface EventWithIgnoredFields {
  usage_format: string | null;
  ignored_usage_fields: readonly string[];
}

@Injectable()
export class IgnoredUsageFieldsService {
  private readonly logger = new Logger('ignored-usage-fields');
  /** The (format, field) pairs that have their own metric series, as `<format> <field>`. */
  private readonly labelled = new Set<string>();

  constructor(
    private readonly repository: IgnoredUsageFieldsRepository,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Records the ignored fields of events just stored, seen at `at`. The events are already durable, so a
   * failure here is logged, never thrown: the listing is for operators, the events are the bill.
   */
  async record(events: readonly EventWithIgnoredFields[], at: Date): Promise<void> {
    const counts = new Map<string, IgnoredUsageFieldCount>();
    for (const e of events) {
      const format = e.usage_format ?? 'unknown';
      for (const path of e.ignored_usage_fields) {
        const key = `${format} ${path}`;
        const c = counts.get(key);
        if (c) c.events += 1;
        else counts.set(key, { format, path, events: 1 });
      }
    }
    if (counts.size === 0) return;
    for (const [key, c] of counts) {
      if (!this.labelled.has(key) && this.labelled.size < MAX_LABELLED_FIELDS) this.labelled.add(key);
      this.metrics.usageIgnoredFields.inc({ format: c.format, field: this.labelled.has(key) ? c.path : 'other' }, c.events);
    }
    try {
      await this.repository.add([...counts.values()], at);
    } catch (error) {
      this.logger.warn(`could not list ignored usage fields ${[...counts.keys()].join(', ')}: ${(error as Error).message}`);
    }
  }
}
