import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.js';
import { describeError } from '../errors.js';
import { withTimeout } from '../lib/abort.js';
import type { MarketHub } from './hub.js';
import type { Feed } from './types.js';

export interface PollerOptions {
  hub: MarketHub;
  feeds: readonly Feed[];
  cron: string;
  log: Logger;
  timeoutMs?: number;
}

/**
 * The REST fallback: on each cron tick, every exchange whose stream is not delivering gets ONE batched
 * fetchTickers for all its subscribed pairs (not one request per pair), and the prices enter the hub as
 * source "poll". While the stream is up the tick costs nothing.
 */
export class Poller {
  private task: ScheduledTask | undefined;
  private readonly log: Logger;

  constructor(private readonly opts: PollerOptions) {
    this.log = opts.log.child({ mod: 'poller' });
  }

  start(): void {
    this.task = cron.schedule(this.opts.cron, () => this.pollOnce(), { noOverlap: true, name: 'rest-fallback' });
    // The schedule must never keep a stopping process alive.
    this.task.unref();
  }

  async stop(): Promise<void> {
    await this.task?.destroy();
    this.task = undefined;
  }

  /** One round over all exchanges; exported for tests and for an immediate poll right after a drop. */
  async pollOnce(): Promise<void> {
    await Promise.all(this.opts.feeds.map((feed) => this.pollFeed(feed)));
  }

  private async pollFeed(feed: Feed): Promise<void> {
    const pairs = [...feed.pairs()];
    if (feed.status().state === 'streaming' || pairs.length === 0) {
      feed.markPolling(false);
      return;
    }
    try {
      const ticks = await withTimeout(feed.fetchTickers(pairs), this.opts.timeoutMs ?? 10_000, `${feed.exchange} fetchTickers`);
      for (const tick of ticks) this.opts.hub.ingest(tick);
      feed.markPolling(true);
      this.log.debug({ exchange: feed.exchange, pairs: pairs.length, got: ticks.length }, 'polled');
    } catch (err) {
      feed.markPolling(false);
      this.log.warn({ exchange: feed.exchange, pairs: pairs.length, err: describeError(err) }, `${feed.exchange} REST poll failed`);
    }
  }
}
