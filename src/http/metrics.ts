import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { HubStatus } from '../market/hub.js';
import type { FeedState, PriceTick } from '../market/types.js';

const STATES: readonly FeedState[] = ['connecting', 'streaming', 'polling', 'down'];

/** Prometheus metrics; a registry of its own so tests and several app instances never collide. */
export class Metrics {
  readonly registry = new Registry();
  private readonly ticks = new Counter({
    name: 'maxflash_price_ticks_total',
    help: 'Price updates taken in, by exchange and source (stream, poll, gapfill, rest)',
    labelNames: ['exchange', 'source'] as const,
    registers: [this.registry],
  });
  private readonly feedState = new Gauge({
    name: 'maxflash_feed_state',
    help: '1 for the current state of each exchange feed, 0 for the others',
    labelNames: ['exchange', 'state'] as const,
    registers: [this.registry],
  });

  constructor(private readonly statusSource: () => HubStatus[]) {
    collectDefaultMetrics({ register: this.registry, prefix: 'maxflash_' });
  }

  countTick(tick: PriceTick): void {
    this.ticks.inc({ exchange: tick.exchange, source: tick.source });
  }

  async render(): Promise<string> {
    for (const s of this.statusSource()) {
      for (const state of STATES) this.feedState.set({ exchange: s.exchange, state }, s.state === state ? 1 : 0);
    }
    return this.registry.metrics();
  }
}
