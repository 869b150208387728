import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.js';
import { describeError } from '../errors.js';
import { withTimeout } from '../lib/abort.js';
import type { MarketHub } from './hub.js';
import type { Feed, FeedStatus } from './types.js';

/** What one cron tick did for one exchange. */
export interface PollOutcome {
  exchange: string;
  /** skipped: the stream is delivering or nothing is subscribed, so no request was made */
  outcome: 'skipped' | 'ok' | 'failed';
  pairs: number;
  ticks: number;
}

export interface PollerOptions {
  hub: MarketHub;
  feeds: readonly Feed[];
  cron: string;
  log: Logger;
  timeoutMs?: number;
  /** told after each exchange's turn in a round (metrics; tests count rounds instead of sleeping) */
  onPoll?: (outcome: PollOutcome) => void;
  /**
   * Fewest milliseconds between two polls of one exchange made because its stream dropped (not by the
   * cron): a stream that flaps every second must not turn into a REST request every second. Default 5 s.
   */
  dropPollGapMs?: number;
  now?: () => number;
}

/**
 * The REST fallback: on each cron tick, every exchange whose stream is not delivering gets ONE batched
 * fetchTickers for all its subscribed pairs (not one request per pair), and the prices enter the hub as
 * source "poll". While the stream is up the tick costs nothing.
 */
export class Poller {
  private task: ScheduledTask | undefined;
  private readonly log: Logger;
  private readonly detach: Array<() => void> = [];
  /** one request per exchange at a time, whether the cron or a drop asked for it */
  private readonly inFlight = new Map<Feed, Promise<void>>();
  private readonly lastDropPoll = new Map<Feed, number>();

  constructor(private readonly opts: PollerOptions) {
    this.log = opts.log.child({ mod: 'poller' });
  }

  start(): void {
    for (const feed of this.opts.feeds) {
      // The stream back means REST no longer carries the prices. Without this the flag stayed set until
      // the next cron tick, and a drop in between reported 'polling' before any poll had happened.
      let wasStreaming = feed.status().state === 'streaming';
      const onState = (status: FeedStatus): void => {
        if (status.state === 'streaming') {
          feed.markPolling(false);
          wasStreaming = true;
          return;
        }
        // A drop must not leave the prices (and every alert on them) waiting up to a whole cron period
        // for the first poll: the default schedule is every 30 s.
        if (wasStreaming && status.state !== 'polling') {
          wasStreaming = false;
          this.pollAfterDrop(feed);
        }
      };
      feed.on('state', onState);
      this.detach.push(() => feed.off('state', onState));
    }
    this.task = cron.schedule(this.opts.cron, () => this.pollOnce(), { noOverlap: true, name: 'rest-fallback' });
    // The schedule must never keep a stopping process alive.
    this.task.unref();
  }

  async stop(): Promise<void> {
    for (const off of this.detach.splice(0)) off();
    await this.task?.destroy();
    this.task = undefined;
  }

  /** One round over all exchanges, as the cron runs it; public for tests. */
  async pollOnce(): Promise<void> {
    await Promise.all(this.opts.feeds.map((feed) => this.pollFeed(feed)));
  }

  private pollAfterDrop(feed: Feed): void {
    const now = (this.opts.now ?? Date.now)();
    const last = this.lastDropPoll.get(feed);
    if (last !== undefined && now - last < (this.opts.dropPollGapMs ?? 5_000)) return;
    this.lastDropPoll.set(feed, now);
    this.log.info({ exchange: feed.exchange }, 'stream dropped; polling now instead of waiting for the schedule');
    void this.pollFeed(feed);
  }

  private pollFeed(feed: Feed): Promise<void> {
    const running = this.inFlight.get(feed);
    if (running) return running;
    const work = this.pollFeedNow(feed).finally(() => this.inFlight.delete(feed));
    this.inFlight.set(feed, work);
    return work;
  }

  private async pollFeedNow(feed: Feed): Promise<void> {
    const report = (outcome: PollOutcome['outcome'], pairs: number, ticks = 0): void => {
      try {
        this.opts.onPoll?.({ exchange: feed.exchange, outcome, pairs, ticks });
      } catch (err) {
        this.log.error({ err: describeError(err) }, 'onPoll listener threw; polling carries on');
      }
    };
    const pairs = [...feed.pairs()];
    if (feed.status().state === 'streaming' || pairs.length === 0) {
      feed.markPolling(false);
      return report('skipped', pairs.length);
    }
    try {
      const ticks = await withTimeout(feed.fetchTickers(pairs), this.opts.timeoutMs ?? 10_000, `${feed.exchange} fetchTickers`);
      for (const tick of ticks) this.opts.hub.ingest(tick);
      // a stream that came back while the request was out carries the prices again
      feed.markPolling(feed.status().state !== 'streaming');
      this.log.debug({ exchange: feed.exchange, pairs: pairs.length, got: ticks.length }, 'polled');
      report('ok', pairs.length, ticks.length);
    } catch (err) {
      feed.markPolling(false);
      this.log.warn({ exchange: feed.exchange, pairs: pairs.length, err: describeError(err) }, `${feed.exchange} REST poll failed`);
      report('failed', pairs.length);
    }
  }
}
