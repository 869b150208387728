import ccxt, { UnsubscribeError, type Exchange, type Ticker, type Tickers } from 'ccxt';
import { FeedError, describeError } from '../../errors.js';
import { sleep, withTimeout } from '../../lib/abort.js';
import { nextDelay, type BackoffOptions } from '../../lib/backoff.js';
import type { Logger } from '../../log.js';
import type { Candle, Feed, FeedEvents, FeedState, FeedStatus, PriceTick, TickSource } from '../types.js';

/** What a venue file supplies; everything else about streaming is the same for every exchange. */
export interface VenueConfig {
  /** ccxt id; also PriceTick.exchange */
  id: string;
  /** ccxt constructor settings shared by the REST and the streaming instance (URL overrides, options) */
  settings: Record<string, unknown>;
  /** least gap between two subscribe/unsubscribe frames on one socket (venue's inbound message limit) */
  subscribeGapMs: number;
  /** most pairs one subscribe/unsubscribe frame may name (Bybit spot: 10 args); more go in later frames */
  maxPairsPerFrame?: number;
  /** runs on each new streaming instance before it dials, e.g. loadHttpProxyAgent() for ws:// URLs */
  prepareStream?: (exchange: Exchange) => Promise<void>;
}

export interface FeedDeps {
  staleMs: number; // no data this long while pairs are subscribed → the connection is treated as dropped
  log: Logger;
  now?: () => number;
  backoff?: Partial<BackoffOptions>; // reconnect delays; default 1 s doubling to 30 s
  subscribeGapMs?: number; // overrides the venue's subscribe pacing (tests)
  closeTimeoutMs?: number; // bound on each shutdown step (closing a socket, waiting for the loop)
}

export type StreamFeed = Feed;

// ---- the ccxt seam: its typings are loose, so every cast lives here ----

function construct(id: string, streaming: boolean, settings: Record<string, unknown>): Exchange {
  const table = (streaming ? ccxt.pro : ccxt) as unknown as Record<string, (new (s: Record<string, unknown>) => Exchange) | undefined>;
  const Ctor = Object.hasOwn(table, id) ? table[id] : undefined;
  if (typeof Ctor !== 'function') throw new FeedError(id, `ccxt${streaming ? ' pro' : ''} has no exchange "${id}"`);
  return new Ctor(settings);
}

/** ccxt declares setMarkets(markets, currencies?: undefined) although it takes the currencies dict. */
function shareMarkets(from: Exchange, to: Exchange): void {
  (to.setMarkets as (markets: unknown, currencies?: unknown) => unknown).call(to, from.markets, from.currencies);
}

const MINUTE_MS = 60_000;

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** ccxt ticker → PriceTick; undefined when the ticker carries no usable price. */
export function toPriceTick(exchange: string, t: Ticker, source: TickSource, receivedAt: number): PriceTick | undefined {
  const last = finite(t.last) ?? finite(t.close);
  if (last === undefined || !t.symbol) return undefined;
  const [bid, ask, changePct24h] = [finite(t.bid), finite(t.ask), finite(t.percentage)];
  return {
    exchange, pair: t.symbol, last, exchangeTs: finite(t.timestamp) ?? receivedAt, receivedAt, source,
    ...(bid === undefined ? {} : { bid }), ...(ask === undefined ? {} : { ask }), ...(changePct24h === undefined ? {} : { changePct24h }),
  };
}

/**
 * Everything that belongs to one socket. A fresh ccxt pro instance per connection means a late promise
 * of an old socket can only touch its own Conn, and ccxt's per-URL state (its own dial backoff, request
 * ids, subscription book) starts clean; markets are copied in, not fetched again.
 */
interface Conn {
  id: number;
  ex: Exchange;
  ac: AbortController; // aborted with the reason the connection ended; `dead` rejects with it
  dead: Promise<never>;
  owner: Map<string, number>; // pair → the batch streaming it; absent = no longer ours on this socket
  batches: Map<number, string[]>;
  batchSeq: number;
  seen: Map<string, Ticker>; // the ccxt ticker object last emitted per pair
  toAdd: Set<string>; // pending work for control(), which kick() wakes
  toRemove: Set<string>;
  kick: () => void;
  lastDataAt: number;
  gotData: boolean;
}

class CcxtStreamFeed implements StreamFeed {
  readonly exchange: string;
  private readonly rest: Exchange;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly backoff: BackoffOptions;
  private readonly gapMs: number;
  private readonly closeMs: number;
  private readonly wanted = new Set<string>();
  private readonly listeners: { [E in keyof FeedEvents]: Set<FeedEvents[E]> } = { tick: new Set(), state: new Set() };
  private readonly stopAc = new AbortController();
  private running: Promise<void> | undefined;
  private wake: () => void = () => {};
  private conn: Conn | undefined;
  private connSeq = 0;
  private attempt = 0;
  private state: FeedState = 'connecting';
  private polling = false;
  private readonly st = { connectedSince: null as number | null, lastMessageAt: null as number | null, reconnects: 0, lastError: null as string | null, nextRetryAt: null as number | null };
  private markets: ReadonlySet<string> | undefined;
  private marketsLoading: Promise<ReadonlySet<string>> | undefined;
  private marketsFailed = false;

  constructor(private readonly venue: VenueConfig, private readonly deps: FeedDeps) {
    this.exchange = venue.id;
    this.log = deps.log.child({ mod: 'feed', exchange: venue.id });
    this.now = deps.now ?? Date.now;
    this.backoff = { baseMs: 1000, capMs: 30_000, ...deps.backoff };
    this.gapMs = deps.subscribeGapMs ?? venue.subscribeGapMs;
    this.closeMs = deps.closeTimeoutMs ?? 3000;
    // ccxt's default leaky bucket does not refill while idle, so every REST call waited out the previous
    // one's cost (~0.8 s after a Binance fetchTickers); a rolling window keeps the limit without the wait.
    this.rest = construct(venue.id, false, { ...venue.settings, enableRateLimit: true, rateLimiterAlgorithm: 'rollingWindow', rollingWindowSize: 60_000 });
    if (!Object.hasOwn(ccxt.pro, venue.id)) throw new FeedError(venue.id, 'ccxt pro cannot stream from this exchange');
  }

  start(): void {
    if (this.running || this.stopAc.signal.aborted) return;
    this.running = this.run().catch((err: unknown) => this.log.error({ err: describeError(err) }, 'feed loop crashed; a bug'));
  }

  async stop(): Promise<void> {
    if (!this.stopAc.signal.aborted) {
      this.stopAc.abort(new FeedError(this.exchange, 'stopped'));
      this.conn?.ac.abort(this.stopAc.signal.reason);
      this.wake();
    }
    await withTimeout(this.running ?? Promise.resolve(), this.closeMs + 1000, `${this.exchange} feed stop`)
      .catch((err: unknown) => this.log.warn({ err: describeError(err) }, 'feed loop did not end in time'));
    await withTimeout(this.rest.close(), this.closeMs, `${this.exchange} REST close`).catch(() => undefined);
  }

  addPair(pair: string): void {
    if (this.stopAc.signal.aborted || this.wanted.has(pair)) return;
    this.wanted.add(pair);
    const c = this.live();
    c?.toRemove.delete(pair);
    c?.toAdd.add(pair);
    c?.kick();
    this.wake();
  }

  removePair(pair: string): void {
    if (!this.wanted.delete(pair)) return;
    const c = this.live();
    c?.toAdd.delete(pair);
    if (c?.owner.delete(pair)) {
      c.toRemove.add(pair);
      c.kick();
    }
  }

  pairs(): ReadonlySet<string> {
    return new Set(this.wanted); // a copy: callers iterate while pairs come and go
  }

  status(): FeedStatus {
    const state = this.polling && this.state !== 'streaming' ? 'polling' : this.state;
    return { exchange: this.exchange, state, symbols: this.wanted.size, ...this.st };
  }

  markPolling(active: boolean): void {
    if (this.polling === active) return;
    this.polling = active;
    this.emit('state', this.status());
  }

  on<E extends keyof FeedEvents>(event: E, listener: FeedEvents[E]): void {
    this.listeners[event].add(listener);
  }
  off<E extends keyof FeedEvents>(event: E, listener: FeedEvents[E]): void {
    this.listeners[event].delete(listener);
  }

  loadMarkets(reload = false): Promise<ReadonlySet<string>> {
    if (!reload && this.markets) return Promise.resolve(this.markets);
    this.marketsLoading ??= (async () => {
      try {
        // ccxt keeps a failed loadMarkets promise and hands it out again, so after a failure force a reload
        const all = await this.rest.loadMarkets(reload || this.marketsFailed);
        this.marketsFailed = false;
        this.markets = new Set(Object.values(all).flatMap((m) => (m?.spot && m.active !== false ? [m.symbol] : [])));
        return this.markets;
      } catch (err) {
        this.marketsFailed = true;
        throw new FeedError(this.exchange, `could not load markets: ${describeError(err)}`, { cause: err });
      } finally {
        this.marketsLoading = undefined;
      }
    })();
    return this.marketsLoading;
  }

  async fetchTicker(pair: string): Promise<PriceTick> {
    await this.loadMarkets();
    const t = await this.rest.fetchTicker(pair).catch((err: unknown) => this.restError(`fetchTicker ${pair}`, err));
    return toPriceTick(this.exchange, t, 'rest', this.now()) ?? this.restError(`fetchTicker ${pair}`, 'no last price in the answer');
  }

  /** One REST request for all pairs (the poller's batch). */
  async fetchTickers(pairs: readonly string[]): Promise<PriceTick[]> {
    if (pairs.length === 0) return [];
    await this.loadMarkets();
    const tickers = await this.rest.fetchTickers([...pairs]).catch((err: unknown) => this.restError(`fetchTickers (${pairs.length} pairs)`, err));
    const [at, want] = [this.now(), new Set(pairs)];
    return Object.values(tickers).flatMap((t) => (want.has(t.symbol ?? '') ? toPriceTick(this.exchange, t, 'poll', at) ?? [] : []));
  }

  /** 1-minute candles from `sinceMs` in one request (gap-fill). */
  async fetchOHLCV(pair: string, sinceMs: number, limit: number): Promise<Candle[]> {
    await this.loadMarkets();
    // Aligned, because Bybit rounds an unaligned `since` up and would skip the minute the gap began in. The
    // range is bounded as well as the count so every venue answers the same minutes: asked for more than
    // its per-request maximum (ccxt's figure: Binance 1000, OKX 300), Binance returns the oldest, OKX the newest.
    const since = Math.floor(sinceMs / MINUTE_MS) * MINUTE_MS;
    const spec: unknown = this.rest.features['spot']?.['fetchOHLCV'];
    const max = finite(typeof spec === 'object' && spec !== null ? (spec as { limit?: unknown }).limit : undefined) ?? 100;
    const count = Math.max(1, Math.min(Math.floor(limit), max));
    const rows = await this.rest.fetchOHLCV(pair, '1m', since, count, { until: since + count * MINUTE_MS - 1 })
      .catch((err: unknown) => this.restError(`fetchOHLCV ${pair}`, err));
    return rows.flatMap((row) => {
      const [ts, open, high, low, close] = row.slice(0, 5).map(finite);
      return ts === undefined || open === undefined || high === undefined || low === undefined || close === undefined ? [] : [{ ts, open, high, low, close }];
    });
  }

  /** Every spot ticker in one request, for ranking pairs by 24 h quote volume. */
  async fetchQuoteVolumes(): Promise<Map<string, number>> {
    const listed = await this.loadMarkets();
    const tickers = await this.rest.fetchTickers().catch((err: unknown) => this.restError('fetchTickers (all)', err));
    return new Map(Object.values(tickers).flatMap((t) => {
      const [quote, base, last] = [finite(t.quoteVolume), finite(t.baseVolume), finite(t.last) ?? finite(t.close)];
      // some venues report only the base volume; base × last is close enough for a ranking
      const volume = quote ?? (base !== undefined && last !== undefined ? base * last : undefined);
      return t.symbol && listed.has(t.symbol) && volume !== undefined ? [[t.symbol, volume] as const] : [];
    }));
  }

  private restError(what: string, err: unknown): never {
    throw new FeedError(this.exchange, `${what}: ${describeError(err)}`, { cause: err });
  }

  // ---- the loop ----

  private async run(): Promise<void> {
    const stop = this.stopAc.signal;
    while (!stop.aborted) {
      if (this.wanted.size === 0) {
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      const conn = this.open();
      this.setState('connecting');
      let reason: unknown;
      try {
        await this.session(conn);
      } catch (err) {
        reason = err;
      }
      conn.ac.abort(reason);
      this.conn = undefined;
      await withTimeout(conn.ex.close(), this.closeMs, `${this.exchange} socket close`)
        .catch((err: unknown) => this.log.debug({ connId: conn.id, err: describeError(err) }, 'closing the old socket failed'));
      if (stop.aborted) break;
      const delayMs = nextDelay(this.attempt, this.backoff);
      this.attempt += 1;
      Object.assign(this.st, { reconnects: this.st.reconnects + 1, connectedSince: null, lastError: describeError(reason), nextRetryAt: this.now() + delayMs });
      // a socket that streamed and dropped is probably a blip; one that never delivered means we cannot reach it
      this.setState(conn.gotData ? 'connecting' : 'down', true);
      this.log.warn({ attempt: this.attempt, delayMs, err: this.st.lastError }, `${this.exchange} stream down, reconnecting in ${(delayMs / 1000).toFixed(1)} s`);
      await sleep(delayMs, stop).catch(() => undefined);
      this.st.nextRetryAt = null;
    }
    this.setState('down');
  }

  private open(): Conn {
    const ac = new AbortController();
    const dead = new Promise<never>((_, reject) => ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true }));
    dead.catch(() => undefined); // observed by session(); this only keeps an early abort from surfacing as unhandled
    // enableRateLimit off: ccxt's throttled subscribe can reject with nobody listening when the socket drops
    const ex = construct(this.venue.id, true, { ...this.venue.settings, enableRateLimit: false });
    const conn: Conn = {
      id: ++this.connSeq, ex, ac, dead, owner: new Map(), batches: new Map(), batchSeq: 0, seen: new Map(),
      toAdd: new Set(), toRemove: new Set(), kick: () => undefined, lastDataAt: this.now(), gotData: false,
    };
    ac.signal.addEventListener('abort', () => conn.kick(), { once: true });
    this.conn = conn;
    return conn;
  }

  private live(): Conn | undefined {
    return this.conn && !this.conn.ac.signal.aborted ? this.conn : undefined;
  }

  /** Resolves never; rejects when the connection is over (error, stale, stop). */
  private async session(conn: Conn): Promise<void> {
    this.log.info({ connId: conn.id, pairs: this.wanted.size }, 'stream connecting');
    const markets = await Promise.race([this.loadMarkets(), conn.dead]);
    if (this.venue.prepareStream) await Promise.race([this.venue.prepareStream(conn.ex), conn.dead]);
    shareMarkets(this.rest, conn.ex);
    for (const pair of this.wanted) conn.toAdd.add(pair);
    conn.lastDataAt = this.now();
    // checked at least every second, so a silent stream is noticed within STREAM_STALE_MS + 1 s
    const watchdog = setInterval(() => this.checkStale(conn), Math.max(10, Math.min(1_000, Math.floor(this.deps.staleMs / 4))));
    try {
      void this.control(conn, markets);
      await conn.dead;
    } finally {
      clearInterval(watchdog);
    }
  }

  private checkStale(conn: Conn): void {
    const t = this.now();
    // with nothing subscribed, silence is expected
    if (conn.owner.size === 0) conn.lastDataAt = t;
    else if (t - conn.lastDataAt > this.deps.staleMs) {
      conn.ac.abort(new FeedError(this.exchange, `no data for ${t - conn.lastDataAt} ms (stale after ${this.deps.staleMs} ms)`));
    }
  }

  /**
   * The one writer of subscribe/unsubscribe frames on a socket. Binance drops a client that sends more
   * than 5 frames a second, so frames are spaced by the venue's gap and every pair added meanwhile
   * rides in one SUBSCRIBE: a reconnect resubscribes all pairs in one frame, not one frame per pair.
   */
  private async control(conn: Conn, markets: ReadonlySet<string>): Promise<void> {
    const { signal } = conn.ac;
    const batchable = conn.ex.has['watchTickers'] === true;
    const perFrame = this.venue.maxPairsPerFrame ?? Infinity;
    try {
      while (!signal.aborted) {
        if (conn.toAdd.size === 0 && conn.toRemove.size === 0) {
          await new Promise<void>((resolve) => (conn.kick = resolve));
          continue;
        }
        if (conn.toRemove.size > 0) {
          const gone = [...conn.toRemove].slice(0, perFrame);
          for (const p of gone) conn.toRemove.delete(p);
          // without unWatch the stream keeps flowing and the owner map filters it out
          if (conn.ex.has['unWatchTickers'] === true) conn.ex.unWatchTickers(gone).catch(() => undefined);
          await sleep(this.gapMs, signal).catch(() => undefined);
        }
        if (conn.toAdd.size > 0) {
          const taken = [...conn.toAdd].slice(0, batchable ? perFrame : 1);
          for (const p of taken) conn.toAdd.delete(p);
          const batch = taken.filter((p) => markets.has(p));
          if (batch.length < taken.length) this.log.warn({ pairs: taken.filter((p) => !markets.has(p)) }, `not listed on ${this.exchange}; not streaming them`);
          if (batch.length === 0) continue;
          const id = ++conn.batchSeq;
          conn.batches.set(id, batch);
          for (const p of batch) conn.owner.set(p, id);
          void this.batchLoop(conn, id, batchable);
          await sleep(this.gapMs, signal).catch(() => undefined);
        }
      }
    } catch (err) {
      conn.ac.abort(err);
    }
  }

  /**
   * One watch loop per SUBSCRIBE batch on the shared socket: adding pairs starts a new batch and leaves
   * the running ones alone. Removing a pair makes ccxt reject its batch with UnsubscribeError; the loop
   * re-arms with the pairs it still owns (ccxt sends nothing for hashes already subscribed).
   * A resolved watch is only the wake-up: ccxt flushes every frame already buffered on the socket before
   * our continuation runs, resolving futures nobody waits on any more, so the loop reads the latest
   * ticker of each pair it owns from ex.tickers and emits those that are new objects since last time.
   */
  private async batchLoop(conn: Conn, batchId: number, batchable: boolean): Promise<void> {
    let unsubscribed = 0;
    try {
      for (;;) {
        const live = (conn.batches.get(batchId) ?? []).filter((p) => conn.owner.get(p) === batchId);
        if (live.length === 0 || conn.ac.signal.aborted) return void conn.batches.delete(batchId);
        let woke: Tickers;
        try {
          woke = batchable ? await conn.ex.watchTickers(live) : { [live[0]!]: await conn.ex.watchTicker(live[0]!) };
          unsubscribed = 0;
        } catch (err) {
          if (conn.ac.signal.aborted) return;
          if (err instanceof UnsubscribeError && ++unsubscribed < 3) continue;
          throw err;
        }
        // a late result of a socket we already gave up on must not touch shared state
        if (conn.ac.signal.aborted || this.conn !== conn) return;
        this.onData(conn, this.now());
        const latest = conn.ex.tickers ?? {};
        for (const pair of live) {
          const t = latest[pair] ?? woke[pair];
          if (!t || conn.seen.get(pair) === t || conn.owner.get(pair) !== batchId) continue;
          conn.seen.set(pair, t);
          const tick = toPriceTick(this.exchange, t, 'stream', this.now());
          if (tick) this.emit('tick', tick);
        }
      }
    } catch (err) {
      conn.ac.abort(err);
    }
  }

  private onData(conn: Conn, at: number): void {
    conn.lastDataAt = this.st.lastMessageAt = at;
    if (conn.gotData) return;
    conn.gotData = true;
    this.attempt = 0; // only data proves the feed works; an open socket alone does not
    Object.assign(this.st, { connectedSince: at, lastError: null });
    this.log.info({ connId: conn.id, pairs: conn.owner.size }, 'stream live');
    this.setState('streaming');
  }

  private setState(state: FeedState, always = false): void {
    if (this.state === state && !always) return;
    this.state = state;
    this.emit('state', this.status());
  }

  private emit<E extends keyof FeedEvents>(event: E, ...args: Parameters<FeedEvents[E]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...a: Parameters<FeedEvents[E]>) => void)(...args);
      } catch (err) {
        this.log.error({ event, err: describeError(err) }, 'a feed listener threw; the feed carries on');
      }
    }
  }
}

/** The one stream implementation; venue files only describe what differs. */
export function createStreamFeed(venue: VenueConfig, deps: FeedDeps): StreamFeed {
  return new CcxtStreamFeed(venue, deps);
}
