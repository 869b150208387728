import type { Logger } from '../log.js';
import { describeError, FeedError, UserInputError } from '../errors.js';
import { msg } from '../i18n/index.js';
import { nextDelay } from '../lib/backoff.js';
import { sleep, withTimeout } from '../lib/abort.js';
import { suggestPairs } from './symbols.js';
import type { Feed, FeedStatus, PriceTick } from './types.js';

export type TickListener = (tick: PriceTick) => void;

export interface HubStatus extends FeedStatus {
  /** listed pairs once markets have loaded */
  markets: number | null;
}

export interface MarketHubOptions {
  feeds: readonly Feed[];
  log: Logger;
  now?: () => number;
  /** a cached price older than this is refreshed over REST when asked for (the stream may be down) */
  freshMs?: number;
  /** bound on one REST call made on a user's behalf */
  restTimeoutMs?: number;
}

/** A quote as answered to a user: the tick plus how it was obtained. */
export interface Quote {
  tick: PriceTick;
  /** true when no cached price existed and REST answered */
  fromRest: boolean;
}

/**
 * The one place prices meet: ref-counted subscriptions over each exchange's single stream, the latest
 * price per pair, and one tick event for everyone downstream (engine, dashboard). Neither the stream
 * nor the poller is visible to listeners except through `tick.source`.
 */
export class MarketHub {
  private readonly feeds = new Map<string, Feed>();
  private readonly refs = new Map<string, number>();
  private readonly cache = new Map<string, PriceTick>();
  private readonly listeners = new Set<TickListener>();
  private readonly markets = new Map<string, ReadonlySet<string>>();
  private readonly marketLoads = new Map<string, Promise<ReadonlySet<string>>>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly freshMs: number;
  private readonly restTimeoutMs: number;
  private readonly holds = new Map<string, { release: () => void; timer: NodeJS.Timeout }>();
  private readonly stopping = new AbortController();
  private readonly held = new Map<string, { ticks: PriceTick[]; dropped: number; timer: NodeJS.Timeout }>();

  constructor(opts: MarketHubOptions) {
    this.log = opts.log.child({ mod: 'hub' });
    this.now = opts.now ?? Date.now;
    this.freshMs = opts.freshMs ?? 60_000;
    this.restTimeoutMs = opts.restTimeoutMs ?? 5_000;
    for (const feed of opts.feeds) {
      this.feeds.set(feed.exchange, feed);
      feed.on('tick', (tick) => this.ingest(tick));
    }
  }

  exchanges(): string[] {
    return [...this.feeds.keys()];
  }

  /** Starts every feed and loads markets in the background, retrying with backoff until they load. */
  start(): void {
    for (const feed of this.feeds.values()) {
      feed.start();
      void this.loadMarketsWithRetry(feed);
    }
  }

  async stop(): Promise<void> {
    this.stopping.abort(new Error('hub stopping'));
    for (const hold of this.holds.values()) clearTimeout(hold.timer);
    for (const hold of this.held.values()) clearTimeout(hold.timer);
    this.held.clear();
    this.holds.clear();
    await Promise.allSettled([...this.feeds.values()].map((f) => f.stop()));
  }

  /** Keeps `pair` streaming until the returned release is called (once; later calls are no-ops). */
  subscribe(exchange: string, pair: string): () => void {
    const feed = this.feed(exchange);
    const key = keyOf(exchange, pair);
    const count = this.refs.get(key) ?? 0;
    this.refs.set(key, count + 1);
    if (count === 0) feed.addPair(pair);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.refs.get(key) ?? 1) - 1;
      if (left > 0) {
        this.refs.set(key, left);
        return;
      }
      this.refs.delete(key);
      feed.removePair(pair);
    };
  }

  /**
   * Keeps a pair streaming for `ms` after the last call, for interest that has no owner to release it
   * (a /price question): asking again soon is answered from the cache instead of REST.
   */
  holdFor(exchange: string, pair: string, ms: number): void {
    const key = keyOf(exchange, pair);
    const existing = this.holds.get(key);
    const release = existing?.release ?? this.subscribe(exchange, pair);
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(() => {
      this.holds.delete(key);
      release();
    }, ms);
    timer.unref();
    this.holds.set(key, { release, timer });
  }

  latest(exchange: string, pair: string): PriceTick | undefined {
    return this.cache.get(keyOf(exchange, pair));
  }

  all(): PriceTick[] {
    return [...this.cache.values()];
  }

  onTick(listener: TickListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Every source (stream, poller, gap-fill, REST) enters here, so listeners see one ordered flow. */
  ingest(tick: PriceTick): void {
    const held = tick.source === 'gapfill' ? undefined : this.held.get(tick.exchange);
    if (held) {
      if (held.ticks.length < MAX_HELD_TICKS) held.ticks.push(tick);
      else held.dropped++;
      return;
    }
    this.deliver(tick);
  }

  /**
   * Holds an exchange's live ticks back while the gap before them is replayed, so listeners (the engine)
   * see the outage's prices before the ones after it, in time order. Returns the release; a hold that is
   * never released ends by itself after `maxMs`, so a stuck candle request cannot freeze prices.
   */
  holdLive(exchange: string, maxMs = 20_000): () => void {
    const existing = this.held.get(exchange);
    if (existing) return () => undefined; // the first hold's release flushes
    const hold = { ticks: [] as PriceTick[], dropped: 0, timer: setTimeout(() => release(), maxMs) };
    hold.timer.unref();
    this.held.set(exchange, hold);
    const release = (): void => {
      if (this.held.get(exchange) !== hold) return;
      clearTimeout(hold.timer);
      this.held.delete(exchange);
      if (hold.dropped) this.log.warn({ exchange, dropped: hold.dropped }, 'live ticks dropped while a gap was replayed (only the newest matter)');
      for (const tick of hold.ticks) this.deliver(tick);
    };
    return release;
  }

  private deliver(tick: PriceTick): void {
    const key = keyOf(tick.exchange, tick.pair);
    const previous = this.cache.get(key);
    // A late REST or poll answer must not overwrite a newer streamed price.
    if (!previous || tick.exchangeTs >= previous.exchangeTs || tick.source === 'gapfill') {
      if (tick.source !== 'gapfill') this.cache.set(key, tick);
    }
    for (const listener of this.listeners) {
      try {
        listener(tick);
      } catch (err) {
        this.log.error({ err, exchange: tick.exchange, pair: tick.pair }, 'price listener failed; others continue');
      }
    }
  }

  status(): HubStatus[] {
    return [...this.feeds.values()].map((feed) => ({ ...feed.status(), markets: this.markets.get(feed.exchange)?.size ?? null }));
  }

  /** Pairs with at least one subscriber, per exchange (what the poller must cover). */
  subscribedPairs(exchange: string): string[] {
    return [...this.feed(exchange).pairs()];
  }

  /**
   * Validates a pair against the exchange's markets. Throws UserInputError with suggestions when it is
   * not listed, and FeedError when the markets cannot be loaded (exchange unreachable).
   */
  async ensureListed(exchange: string, pair: string): Promise<void> {
    const listed = await this.loadMarkets(exchange);
    if (listed.has(pair)) return;
    const suggestions = suggestPairs(pair, listed);
    const text = suggestions.length ? msg('pair.notTradedSuggest', { pair, exchange, suggestions: suggestions.join(', ') }) : msg('pair.notTraded', { pair, exchange });
    throw new UserInputError(text, `/price ${suggestions[0] ?? 'BTC/USDT'}`);
  }

  /**
   * The price for a user's question: from the cache when fresh, otherwise one REST call, while the pair's
   * subscription starts (held by the caller through `subscribe`).
   */
  async quote(exchange: string, pair: string): Promise<Quote> {
    await this.ensureListed(exchange, pair);
    const cached = this.latest(exchange, pair);
    if (cached && this.now() - cached.receivedAt <= this.freshMs) return { tick: cached, fromRest: false };
    try {
      const tick = await withTimeout(this.feed(exchange).fetchTicker(pair), this.restTimeoutMs, `${exchange} fetchTicker`);
      this.ingest(tick);
      return { tick, fromRest: true };
    } catch (err) {
      // An old price with its age shown beats no answer at all.
      if (cached) return { tick: cached, fromRest: false };
      throw new FeedError(exchange, `no price for ${pair} right now (${describeError(err)})`, { cause: err });
    }
  }

  /** The exchange's listed pairs, loaded once and cached (as ensureListed uses them). */
  listed(exchange: string): Promise<ReadonlySet<string>> {
    return this.loadMarkets(exchange);
  }

  /**
   * Loads the listing afresh (daily): pairs listed since start-up validate, delisted ones stop validating.
   * A failed reload keeps the listing we had.
   */
  async reloadMarkets(exchange: string): Promise<ReadonlySet<string>> {
    const feed = this.feed(exchange);
    try {
      const set = await withTimeout(feed.loadMarkets(true), this.restTimeoutMs * 2, `${exchange} loadMarkets`);
      this.markets.set(exchange, set);
      return set;
    } catch (err) {
      throw new FeedError(exchange, `markets could not be reloaded (${describeError(err)})`, { cause: err });
    }
  }

  private feed(exchange: string): Feed {
    const feed = this.feeds.get(exchange);
    if (!feed) {
      throw new UserInputError(
        msg('exchange.notEnabled', { exchange, enabled: this.exchanges().join(', ') }),
        `/price BTC/USDT on ${this.exchanges()[0] ?? 'binance'}`,
      );
    }
    return feed;
  }

  private loadMarkets(exchange: string): Promise<ReadonlySet<string>> {
    const known = this.markets.get(exchange);
    if (known) return Promise.resolve(known);
    let pending = this.marketLoads.get(exchange);
    if (!pending) {
      pending = withTimeout(this.feed(exchange).loadMarkets(), this.restTimeoutMs * 2, `${exchange} loadMarkets`)
        .then((set) => {
          this.markets.set(exchange, set);
          return set;
        })
        .catch((err: unknown) => {
          throw new FeedError(exchange, `markets could not be loaded (${describeError(err)})`, { cause: err });
        })
        .finally(() => this.marketLoads.delete(exchange));
      this.marketLoads.set(exchange, pending);
    }
    return pending;
  }

  private async loadMarketsWithRetry(feed: Feed): Promise<void> {
    for (let attempt = 0; !this.stopping.signal.aborted; attempt++) {
      try {
        const set = await this.loadMarkets(feed.exchange);
        this.log.info({ exchange: feed.exchange, markets: set.size }, `${feed.exchange} markets loaded`);
        return;
      } catch (err) {
        const delayMs = nextDelay(attempt, { baseMs: 1_000, capMs: 60_000 });
        this.log.warn(
          { exchange: feed.exchange, attempt: attempt + 1, delayMs, err: describeError(err) },
          `${feed.exchange} markets unavailable, retrying in ${(delayMs / 1000).toFixed(1)} s`,
        );
        await sleep(delayMs, this.stopping.signal).catch(() => undefined);
      }
    }
  }
}

/** a live stream carries ~1 tick per pair per second; this is minutes of a busy exchange */
const MAX_HELD_TICKS = 100_000;

function keyOf(exchange: string, pair: string): string {
  return `${exchange}:${pair}`;
}
