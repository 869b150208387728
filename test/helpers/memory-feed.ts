import type { Candle, Feed, FeedEvents, FeedStatus, PriceTick } from '../../src/market/types.js';

/**
 * An in-memory Feed for unit tests of the hub and commands: no sockets, prices set by the test. The real
 * ccxt-backed feed is tested against the fake exchange in test/integration.
 */
export class MemoryFeed implements Feed {
  readonly added: string[] = [];
  readonly removed: string[] = [];
  restCalls = 0;
  failRest: Error | undefined;
  failMarkets: Error | undefined;
  /** fetchOHLCV answers from here (rows per pair, any order); every call is recorded */
  readonly candles = new Map<string, Candle[]>();
  readonly ohlcvCalls: Array<{ pair: string; sinceMs: number; limit: number }> = [];
  failOhlcv: Error | undefined;
  /** fetchQuoteVolumes answers from here */
  readonly quoteVolumes = new Map<string, number>();
  volumeCalls = 0;
  state: FeedStatus['state'] = 'connecting';
  polling = false;
  private readonly active = new Set<string>();
  private readonly handlers: { [E in keyof FeedEvents]: Set<FeedEvents[E]> } = { tick: new Set(), state: new Set() };

  constructor(
    readonly exchange: string,
    readonly listed: ReadonlySet<string>,
    private readonly prices = new Map<string, number>(),
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {}
  async stop(): Promise<void> {}
  addPair(pair: string): void {
    this.added.push(pair);
    this.active.add(pair);
  }
  removePair(pair: string): void {
    this.removed.push(pair);
    this.active.delete(pair);
  }
  pairs(): ReadonlySet<string> {
    return this.active;
  }
  status(): FeedStatus {
    const state = this.polling && this.state !== 'streaming' ? 'polling' : this.state;
    return { exchange: this.exchange, state, connectedSince: null, lastMessageAt: null, reconnects: 0, symbols: this.active.size, lastError: null, nextRetryAt: null };
  }
  on<E extends keyof FeedEvents>(event: E, listener: FeedEvents[E]): void {
    this.handlers[event].add(listener);
  }
  off<E extends keyof FeedEvents>(event: E, listener: FeedEvents[E]): void {
    this.handlers[event].delete(listener);
  }
  /** loadMarkets calls, and how many asked for a reload */
  readonly marketLoads = { total: 0, reloads: 0 };
  async loadMarkets(reload = false): Promise<ReadonlySet<string>> {
    this.marketLoads.total++;
    if (reload) this.marketLoads.reloads++;
    if (this.failMarkets) throw this.failMarkets;
    return this.listed;
  }
  async fetchTicker(pair: string): Promise<PriceTick> {
    this.restCalls++;
    if (this.failRest) throw this.failRest;
    return this.tick(pair, 'rest');
  }
  async fetchTickers(pairs: readonly string[]): Promise<PriceTick[]> {
    this.restCalls++;
    if (this.failRest) throw this.failRest;
    return pairs.map((p) => this.tick(p, 'poll'));
  }
  async fetchOHLCV(pair: string, sinceMs: number, limit: number): Promise<Candle[]> {
    this.ohlcvCalls.push({ pair, sinceMs, limit });
    if (this.failOhlcv) throw this.failOhlcv;
    const since = Math.floor(sinceMs / 60_000) * 60_000;
    return (this.candles.get(pair) ?? []).filter((c) => c.ts >= since).sort((a, b) => a.ts - b.ts).slice(0, limit);
  }
  async fetchQuoteVolumes(): Promise<Map<string, number>> {
    this.volumeCalls++;
    if (this.failRest) throw this.failRest;
    return new Map([...this.quoteVolumes].filter(([pair]) => this.listed.has(pair)));
  }
  markPolling(active: boolean): void {
    if (this.polling === active) return;
    this.polling = active;
    this.emitState();
  }
  /** sets the stream state and tells listeners, as the real feed does on each change */
  setState(state: FeedStatus['state']): void {
    this.state = state;
    this.emitState();
  }
  /** a tick as the stream would deliver it, with the caller's timestamps */
  emitTick(tick: PriceTick): void {
    for (const h of this.handlers.tick) h(tick);
  }
  private emitState(): void {
    const status = this.status();
    for (const h of this.handlers.state) h(status);
  }
  setPrice(pair: string, last: number): void {
    this.prices.set(pair, last);
  }
  /** what the stream would deliver */
  emit(pair: string, last: number): void {
    this.prices.set(pair, last);
    for (const h of this.handlers.tick) h(this.tick(pair, 'stream'));
  }
  private tick(pair: string, source: PriceTick['source']): PriceTick {
    const last = this.prices.get(pair) ?? 1;
    const t = this.now();
    return { exchange: this.exchange, pair, last, changePct24h: 1.5, exchangeTs: t, receivedAt: t, source };
  }
}
