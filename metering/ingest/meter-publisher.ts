// Hands accepted events to whoever streams them live (the readings module's SSE), after the commit.
// A seam, so ingest does not depend on how or whether anyone is listening.
import { Injectable } from '@nestjs/common';
import type { StoredEvent } from './event-row.js';

export type MeterListener = (accountId: string, events: readonly StoredEvent[]) => void;

@Injectable()
export class MeterPublisher {
  private readonly listeners: MeterListener[] = [];

  onPublished(listener: MeterListener): void {
    this.listeners.push(listener);
  }

  published(accountId: string, events: readonly StoredEvent[]): void {
    if (events.length === 0) return;
    for (const listener of this.listeners) listener(accountId, events);
  }
}
