import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from '../log.js';
import { describeError } from '../errors.js';
import { sleep, withTimeout } from '../lib/abort.js';
import { nextDelay, type BackoffOptions } from '../lib/backoff.js';
import type { MarketHub } from './hub.js';
import type { Feed } from './types.js';

export interface TopPairsOptions {
  hub: MarketHub;
  feeds: readonly Feed[];
  log: Logger;
  /** false: no pairs are tracked (tests that count connections and requests); markets still reload daily */
  enabled?: boolean;
  /** pairs tracked per exchange (default 20) */
  count?: number;
  /**
   * Only pairs quoted in these currencies are ranked (default USDT). Quote volumes in different currencies
   * do not compare: a pair quoted in TRY or IDR shows a volume thousands of times its dollar value.
   */
  quotes?: readonly string[];
  /** node-cron schedule (UTC) of the daily markets reload and re-rank; default 00:07:00 */
  refreshCron?: string;
  /** the daily job starts up to this much later, at random, so bots do not all reload at one second */
  jitterMs?: number;
  /** bound on the all-tickers request */
  timeoutMs?: number;
  /** retries of the start-up ranking until markets and tickers answer */
  backoff?: Partial<BackoffOptions>;
}

/**
 * Keeps the most traded pairs of each exchange streaming from start-up, so the first /price for a popular
 * pair is answered from the stream and the dashboard has prices. After the markets load, ONE all-tickers
 * request per exchange ranks spot pairs by 24 h quote volume; the top ones are subscribed through the hub
 * and held. A daily job reloads each exchange's markets and re-ranks: newcomers are subscribed, pairs that
 * fell out are released (a rule or watch on them keeps its own subscription).
 */
export class TopPairs {
  private readonly log: Logger;
  private readonly held = new Map<string, Map<string, () => void>>();
  private readonly stopping = new AbortController();
  /** rejects on stop, so a request in flight is abandoned at once instead of awaited to its timeout */
  private readonly stopped: Promise<never>;
  private readonly count: number;
  private readonly quotes: ReadonlySet<string>;
  private readonly timeoutMs: number;
  private readonly backoff: BackoffOptions;
  private task: ScheduledTask | undefined;
  private readonly pending = new Set<Promise<void>>();
  private initials: Array<Promise<void>> = [];

  constructor(private readonly opts: TopPairsOptions) {
    this.log = opts.log.child({ mod: 'top-pairs' });
    this.count = opts.count ?? 20;
    this.quotes = new Set((opts.quotes ?? ['USDT']).map((q) => q.toUpperCase()));
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.backoff = { baseMs: 5_000, capMs: 300_000, ...opts.backoff };
    const signal = this.stopping.signal;
    this.stopped = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    this.stopped.catch(() => undefined);
  }

  /** Ranks in the background (retrying until it works) and schedules the daily refresh. */
  start(): void {
    if (this.task || this.stopping.signal.aborted) return;
    if (this.opts.enabled !== false && this.count > 0) {
      this.initials = this.opts.feeds.map((feed) => this.track(this.initial(feed.exchange)));
    }
    this.task = cron.schedule(this.opts.refreshCron ?? '0 7 0 * * *', () => this.refresh(), {
      name: 'markets-refresh', timezone: 'Etc/UTC', noOverlap: true, maxRandomDelay: this.opts.jitterMs ?? 30 * 60_000, unref: true,
    });
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('top pairs stopping'));
    await this.task?.destroy();
    this.task = undefined;
    await withTimeout(Promise.allSettled([...this.pending]), 1000, 'top pairs stop').catch(() => undefined);
  }

  /** Resolves once every exchange's start-up ranking has succeeded (or stop() ended the retries). */
  async settled(): Promise<void> {
    await Promise.all(this.initials);
  }

  /** The pairs currently held for an exchange, best first. */
  tracked(exchange: string): string[] {
    return [...(this.held.get(exchange)?.keys() ?? [])];
  }

  /** The daily job, exported for tests: reload every exchange's markets, then re-rank. Never throws. */
  async refresh(): Promise<void> {
    await Promise.all(
      this.opts.feeds.map(async ({ exchange }) => {
        try {
          const listed = await Promise.race([this.opts.hub.reloadMarkets(exchange), this.stopped]);
          this.log.info({ exchange, markets: listed.size }, `${exchange} markets reloaded`);
          if (this.opts.enabled !== false && this.count > 0 && !this.stopping.signal.aborted) await this.rank(exchange);
        } catch (err) {
          if (this.stopping.signal.aborted) return;
          // yesterday's listing and pairs stay in place until tomorrow's run
          this.log.warn({ exchange, err: describeError(err) }, `${exchange} daily markets refresh failed`);
        }
      }),
    );
  }

  private track(work: Promise<void>): Promise<void> {
    this.pending.add(work);
    work.finally(() => this.pending.delete(work)).catch(() => undefined);
    return work;
  }

  private async initial(exchange: string): Promise<void> {
    for (let attempt = 0; !this.stopping.signal.aborted; attempt++) {
      try {
        await this.rank(exchange);
        return;
      } catch (err) {
        if (this.stopping.signal.aborted) return;
        const delayMs = nextDelay(attempt, this.backoff);
        this.log.warn({ exchange, attempt: attempt + 1, delayMs, err: describeError(err) }, `${exchange} top pairs unavailable, retrying in ${(delayMs / 1000).toFixed(1)} s`);
        await sleep(delayMs, this.stopping.signal).catch(() => undefined);
      }
    }
  }

  private async rank(exchange: string): Promise<void> {
    const listed = await Promise.race([this.opts.hub.listed(exchange), this.stopped]);
    const feed = this.opts.feeds.find((f) => f.exchange === exchange);
    if (!feed) return;
    const volumes = await Promise.race([withTimeout(feed.fetchQuoteVolumes(), this.timeoutMs, `${exchange} fetchTickers (all)`), this.stopped]);
    const top = topByQuoteVolume(volumes, { count: this.count, quotes: this.quotes, listed });
    this.hold(exchange, top);
    this.log.info({ exchange, pairs: top }, `${exchange}: tracking the ${top.length} pairs with the highest 24 h volume`);
  }

  private hold(exchange: string, top: readonly string[]): void {
    const before = this.held.get(exchange) ?? new Map<string, () => void>();
    const after = new Map<string, () => void>();
    for (const pair of top) after.set(pair, before.get(pair) ?? this.opts.hub.subscribe(exchange, pair));
    for (const [pair, release] of before) if (!after.has(pair)) release();
    this.held.set(exchange, after);
  }
}

/** The `count` listed pairs with the highest quote volume among those quoted in `quotes`; ties by name. Pure. */
export function topByQuoteVolume(
  volumes: ReadonlyMap<string, number>,
  opts: { count: number; quotes: ReadonlySet<string>; listed?: ReadonlySet<string> },
): string[] {
  return [...volumes]
    .filter(([pair, volume]) => Number.isFinite(volume) && volume > 0 && opts.quotes.has(pair.split('/')[1] ?? '') && (opts.listed?.has(pair) ?? true))
    .sort(([a, va], [b, vb]) => vb - va || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, opts.count)
    .map(([pair]) => pair);
}
