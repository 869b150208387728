import type { Feed, FeedEvents, FeedStatus, PriceTick } from '../../src/market/types.js';

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
  async loadMarkets(): Promise<ReadonlySet<string>> {
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
  markPolling(active: boolean): void {
    this.polling = active;
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
