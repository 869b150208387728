/** Where a price came from. The engine treats them alike; messages mention non-stream sources. */
export type TickSource = 'stream' | 'poll' | 'gapfill' | 'rest';

export interface PriceTick {
  exchange: string;
  /** normalised unified pair, e.g. "BTC/USDT" */
  pair: string;
  last: number;
  bid?: number;
  ask?: number;
  /** 24 h change in percent, e.g. -1.25 */
  changePct24h?: number;
  /** exchange event time (ms since epoch); falls back to receivedAt when the venue sends none */
  exchangeTs: number;
  /** local receive time (ms since epoch) */
  receivedAt: number;
  source: TickSource;
}

/**
 * connecting: no data yet on this connection; streaming: data flowing; polling: stream down, REST poller
 * carrying prices; down: neither works (no network, exchange unreachable).
 */
export type FeedState = 'connecting' | 'streaming' | 'polling' | 'down';

export interface FeedStatus {
  exchange: string;
  state: FeedState;
  connectedSince: number | null;
  lastMessageAt: number | null;
  reconnects: number;
  symbols: number;
  /** last error in one line, for health output; never a secret */
  lastError: string | null;
  /** when the next reconnect attempt is due (ms since epoch), while waiting */
  nextRetryAt: number | null;
}

/** One 1-minute candle as the exchange reports it (ts = the minute's open time, ms since epoch). */
export interface Candle {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface FeedEvents {
  tick: (tick: PriceTick) => void;
  state: (status: FeedStatus) => void;
}

/**
 * One exchange's real-time stream (one connection for all pairs) plus the REST calls that back it up.
 * Implemented once in feeds/base.ts; venue files only configure it.
 */
export interface Feed {
  readonly exchange: string;
  /** connects lazily: nothing is opened until a pair is added */
  start(): void;
  stop(): Promise<void>;
  /** adds a pair to the live connection without disturbing the others */
  addPair(pair: string): void;
  removePair(pair: string): void;
  pairs(): ReadonlySet<string>;
  status(): FeedStatus;
  on<E extends keyof FeedEvents>(event: E, listener: FeedEvents[E]): void;
  off<E extends keyof FeedEvents>(event: E, listener: FeedEvents[E]): void;
  /** loads (or returns cached) spot markets: the set of valid unified pairs */
  loadMarkets(reload?: boolean): Promise<ReadonlySet<string>>;
  /** one REST ticker, source 'rest' */
  fetchTicker(pair: string): Promise<PriceTick>;
  /** one batched REST call for many pairs, source 'poll' */
  fetchTickers(pairs: readonly string[]): Promise<PriceTick[]>;
  /**
   * 1-minute candles from `sinceMs` (floored to the minute), oldest first, in ONE request: at most `limit`
   * and at most what the venue serves per request (Binance/Bybit 1000, OKX 300); for gap-fill.
   */
  fetchOHLCV(pair: string, sinceMs: number, limit: number): Promise<Candle[]>;
  /** one request for every spot ticker the venue has: listed pair → 24 h volume in its quote currency */
  fetchQuoteVolumes(): Promise<Map<string, number>>;
  /** the owner (the poller) says REST is carrying this exchange's prices while the stream is out */
  markPolling(active: boolean): void;
}
