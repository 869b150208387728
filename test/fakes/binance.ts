import {
  FakeExchangeServer, fillTemplate, fixtureReader, parseJsonObject,
  type FakeConn, type FakeExchange, type FakeVenueOptions, type Json, type Quote, type RecordedTickerKeys, type RestReply, type RestRequest,
} from './common.js';

export type { ConnectionInfo, PriceOptions, RefuseTarget } from './common.js';

/**
 * A local Binance spot: the REST endpoints ccxt's loadMarkets/fetchTicker(s) call and the market-data
 * WebSocket with live SUBSCRIBE/UNSUBSCRIBE, built from the recorded payloads in test/fixtures/binance
 * (see SOURCES.md there). Every object the fake sends is a fixture template with the values filled in,
 * so key sets and order match the wire exactly.
 */

const fixture = fixtureReader('binance');

type SymbolInfo = Json & { symbol: string; baseAsset: string; filters: Array<{ filterType: string; tickSize?: string }> };
const EXCHANGE_INFO = fixture<Json & { symbols: SymbolInfo[] }>('exchangeInfo.json');
const REST_TICKER = fixture('ticker_24hr_single.json');
const REST_TICKER_KEYS: RecordedTickerKeys = {
  last: 'lastPrice', open: 'openPrice', high: 'highPrice', low: 'lowPrice', bid: 'bidPrice', ask: 'askPrice', volume: 'volume', quoteVolume: 'quoteVolume',
};
const WS_TICKER = fixture('ws_24hrTicker.json');
const WS_MINI_TICKER = fixture('ws_24hrMiniTicker.json');
const KLINES = fixture<unknown[][]>('klines.json');
const ERR_INVALID_REQUEST = fixture('ws_error_invalid_request.json');
const ERR_UNKNOWN_PROPERTY = fixture('ws_error_unknown_property.json');

/** Synthetic starting prices for local trials (no recorded ticker exists for these); BTCUSDT uses the fixture. */
const SYNTHETIC_START: Record<string, string> = {
  ETHUSDT: '3000.00', ADAUSDT: '0.5000', LTCUSDT: '80.00', XRPUSDT: '0.6000', DOGEUSDT: '0.15000', TRXUSDT: '0.12000',
};
const DAY_MS = 86_400_000;

export interface FakeBinanceOptions extends FakeVenueOptions {
  /** push every subscribed stream this often (Binance pushes @ticker each 1000 ms); 0 = only on setPrice */
  emitIntervalMs?: number;
  /** server ping frames (Binance: every 20 s); the client's pongs count towards the message limit */
  pingIntervalMs?: number;
  /** incoming frames per second per connection before the fake disconnects it, as Binance does (5) */
  maxIncomingPerSecond?: number;
  /** more USDT markets beyond the seven recorded ones: the ETHUSDT entry cloned with symbol and baseAsset replaced */
  extraBases?: readonly string[];
}

/** One 1-minute candle served by /api/v3/klines after setCandles; prices as numbers or exchange strings. */
export interface FakeCandle {
  /** the minute's open time, ms since epoch */
  openTime: number;
  open: number | string;
  high: number | string;
  low: number | string;
  close: number | string;
  volume?: number | string;
}

export interface ControlFrame {
  conn: number;
  at: number;
  method: unknown;
  params: unknown;
  id: unknown;
}

/** `frames`: every JSON frame received, in order (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS …). */
export interface FakeBinance extends FakeExchange<ControlFrame> {
  /** put in BINANCE_REST_URL (replaces ccxt urls.api.public verbatim) */
  readonly restUrl: string;
  /** put in BINANCE_WS_URL (replaces ccxt urls.api.ws.spot verbatim; ccxt appends /<n>) */
  readonly wsUrl: string;
  /**
   * Serves these 1-minute candles for `symbol` from /api/v3/klines (honouring startTime, endTime and
   * limit) instead of the recorded shape sample; an empty list goes back to the sample.
   */
  setCandles(symbol: string, rows: readonly FakeCandle[]): void;
  /**
   * Sends `count` 24hrTicker events round-robin over `symbols` to every connection subscribed to them, as
   * fast as the sockets take them (a benchmark load, not a Binance behaviour). Each event moves the price
   * by one tick; resolves with the last price sent per symbol once every frame is written.
   */
  blast(symbols: readonly string[], count: number): Promise<{ sent: number; last: Record<string, string> }>;
}

interface Conn extends FakeConn {
  combined: boolean;
  incoming: number[];
  pinger: NodeJS.Timeout | undefined;
}

const fmt = (n: number, decimals = 8): string => n.toFixed(decimals);
const pick = (template: Json, values: Json): Json => fillTemplate('binance', template, values);

class FakeBinanceServer extends FakeExchangeServer<Conn, ControlFrame> implements FakeBinance {
  /** trade id and trade count of each symbol before the first setPrice; both grow by one per update */
  private readonly tradeBase = new Map<string, { lastId: number; count: number }>();
  private readonly symbols: SymbolInfo[];
  private readonly candles = new Map<string, FakeCandle[]>();

  constructor(private readonly opts: FakeBinanceOptions) {
    super('binance', opts);
    const template = EXCHANGE_INFO.symbols.find((s) => s.symbol === 'ETHUSDT') ?? EXCHANGE_INFO.symbols[0]!;
    this.symbols = [
      ...EXCHANGE_INFO.symbols,
      ...(opts.extraBases ?? []).map((base): SymbolInfo => ({ ...template, symbol: `${base}USDT`, baseAsset: base })),
    ];
    for (const s of this.symbols) {
      const tick = s.filters.find((f) => f.filterType === 'PRICE_FILTER')?.tickSize ?? '0.01';
      const recorded = s.symbol === REST_TICKER['symbol'];
      const price = opts.prices?.[s.symbol];
      this.seedQuote(s.symbol, tick, price ?? SYNTHETIC_START[s.symbol] ?? '1', recorded && !price ? { ticker: REST_TICKER, keys: REST_TICKER_KEYS } : undefined);
      this.tradeBase.set(s.symbol, recorded ? { lastId: Number(REST_TICKER['lastId']), count: Number(REST_TICKER['count']) } : { lastId: 1000, count: 1000 });
    }
  }

  protected override urlsFor(origin: string): { restUrl: string; wsUrl: string } {
    // ccxt 4.5.84 decides "spot" by url.indexOf('/stream') (the real host is stream.binance.com), so a local
    // URL must carry /stream in its path; ccxt then dials <this>/0.
    return { restUrl: `http://${origin}/api/v3`, wsUrl: `ws://${origin}/stream` };
  }

  private trades(q: Quote): { lastId: number; count: number } {
    const base = this.tradeBase.get(q.symbol) ?? { lastId: 1000, count: 1000 };
    return { lastId: base.lastId + q.updates, count: base.count + q.updates };
  }

  // ---- REST ----

  protected override route({ method, path, query }: RestRequest): RestReply {
    const ok = (body: unknown): RestReply => ({ status: 200, body });
    const invalidSymbol: RestReply = { status: 400, body: { code: -1121, msg: 'Invalid symbol.' } };
    if (method !== 'GET') return { status: 405, body: { code: -1000, msg: 'GET only in this fake' } };
    switch (path) {
      case '/api/v3/ping':
        return ok({});
      case '/api/v3/time':
        return ok({ serverTime: this.now() });
      case '/api/v3/exchangeInfo':
        return ok({ ...EXCHANGE_INFO, symbols: this.symbols });
      case '/api/v3/klines': {
        const symbol = query.get('symbol') ?? '';
        if (!this.quotes.has(symbol)) return invalidSymbol;
        const limit = Number(query.get('limit') ?? 500);
        const rows = this.candles.get(symbol);
        if (!rows) return ok(KLINES.slice(-Math.max(1, limit)));
        const [start, end] = [Number(query.get('startTime') ?? -Infinity), Number(query.get('endTime') ?? Infinity)];
        // Binance answers oldest first from startTime; with no startTime, the newest `limit` up to endTime
        const inRange = rows.filter((r) => r.openTime >= start && r.openTime <= end);
        const picked = query.has('startTime') ? inRange.slice(0, limit) : inRange.slice(-limit);
        return ok(picked.map((r) => this.kline(r)));
      }
      case '/api/v3/ticker/24hr': {
        const one = query.get('symbol');
        const many = query.get('symbols');
        if (one !== null) {
          const s = this.quotes.get(one);
          return s ? ok(this.restTicker(s)) : invalidSymbol;
        }
        if (many !== null) {
          let names: unknown;
          try {
            names = JSON.parse(many);
          } catch {
            return invalidSymbol;
          }
          if (!Array.isArray(names)) return invalidSymbol;
          const found = names.map((n) => this.quotes.get(String(n)));
          if (found.some((s) => s === undefined)) return invalidSymbol;
          return ok((found as Quote[]).map((s) => this.restTicker(s)));
        }
        return ok([...this.quotes.values()].map((s) => this.restTicker(s)));
      }
      default:
        return { status: 404, body: { code: -1000, msg: `no such endpoint in the fake: ${path}` } };
    }
  }

  setCandles(symbol: string, rows: readonly FakeCandle[]): void {
    this.quote(symbol);
    if (rows.length === 0) this.candles.delete(symbol);
    else this.candles.set(symbol, [...rows].sort((a, b) => a.openTime - b.openTime));
  }

  /** A klines row in the recorded layout: open time, OHLC and volume as strings, close time, then totals. */
  private kline(r: FakeCandle): unknown[] {
    const volume = Number(r.volume ?? 1);
    return [
      r.openTime, fmt(Number(r.open)), fmt(Number(r.high)), fmt(Number(r.low)), fmt(Number(r.close)), fmt(volume),
      r.openTime + 59_999, fmt(volume * Number(r.close)), 1, fmt(volume / 2), fmt((volume * Number(r.close)) / 2), '0',
    ];
  }

  async blast(symbols: readonly string[], count: number): Promise<{ sent: number; last: Record<string, string> }> {
    const quotes = symbols.map((sym) => this.quote(sym));
    const last: Record<string, string> = {};
    let sent = 0;
    const CHUNK = 256;
    for (let i = 0; i < count && this.streaming; ) {
      const frames = new Map<Conn, string[]>();
      for (const end = Math.min(count, i + CHUNK); i < end; i++) {
        const q = quotes[i % quotes.length]!;
        q.last = Number((q.last + 10 ** -q.decimals).toFixed(q.decimals));
        q.high = Math.max(q.high, q.last);
        q.updates += 1;
        last[q.symbol] = fmt(q.last, q.decimals);
        const stream = `${q.symbol.toLowerCase()}@ticker`;
        const rendered = new Map<boolean, string>(); // by conn.combined: one render per frame shape
        for (const conn of this.conns.values()) {
          if (!conn.streams.has(stream) || conn.ws.readyState !== conn.ws.OPEN) continue;
          const frame = rendered.get(conn.combined) ?? JSON.stringify(conn.combined ? { stream, data: this.wsTicker(q) } : this.wsTicker(q));
          rendered.set(conn.combined, frame);
          const list = frames.get(conn) ?? [];
          if (list.length === 0) frames.set(conn, list);
          list.push(frame);
          sent += 1;
        }
      }
      // a socket's write callbacks fire in order once it has taken the data, so waiting on each socket's
      // last frame of the chunk paces the blast to what the receiver reads
      await Promise.all([...frames].map(([conn, list]) => new Promise<void>((resolve) => {
        list.forEach((frame, n) => conn.ws.send(frame, n === list.length - 1 ? () => resolve() : undefined));
      })));
    }
    return { sent, last };
  }

  private restTicker(s: Quote): Json {
    const close = this.now();
    const change = s.last - s.open;
    const { lastId, count } = this.trades(s);
    return pick(REST_TICKER, {
      symbol: s.symbol,
      priceChange: fmt(change),
      priceChangePercent: fmt(s.open ? (change / s.open) * 100 : 0, 3),
      weightedAvgPrice: fmt((s.high + s.low + s.last) / 3),
      prevClosePrice: fmt(s.open),
      lastPrice: fmt(s.last),
      lastQty: fmt(0.001),
      bidPrice: fmt(s.bid),
      bidQty: fmt(1),
      askPrice: fmt(s.ask),
      askQty: fmt(1),
      openPrice: fmt(s.open),
      highPrice: fmt(s.high),
      lowPrice: fmt(s.low),
      volume: fmt(s.volume),
      quoteVolume: fmt(s.quoteVolume),
      openTime: close - DAY_MS,
      closeTime: close,
      firstId: lastId - count + 1,
      lastId,
      count,
    });
  }

  // ---- WebSocket ----

  protected override acceptsPath(pathname: string): boolean {
    return /^\/(ws|stream)(\/|$)/.test(pathname);
  }

  protected override newConn(base: FakeConn, url: URL): Conn {
    const raw = /^\/ws(\/|$)/.test(url.pathname);
    // /ws/<stream> and /stream?streams=a/b open with those streams; ccxt's /stream/<n> names none
    const initial = raw ? url.pathname.split('/').slice(2) : (url.searchParams.get('streams') ?? '').split('/');
    const conn: Conn = { ...base, combined: !raw, streams: new Set(initial.filter((s) => s.includes('@'))), incoming: [], pinger: undefined };
    const pingMs = this.opts.pingIntervalMs ?? 20_000;
    if (pingMs > 0) conn.pinger = setInterval(() => conn.ws.ping(), pingMs);
    conn.ws.on('ping', () => this.count(conn));
    conn.ws.on('pong', () => this.count(conn));
    return conn;
  }

  protected override onClosed(conn: Conn): void {
    clearInterval(conn.pinger);
  }

  /** Binance drops a connection that sends more than 5 frames in a second (pings and pongs included). */
  private count(conn: Conn): boolean {
    const t = this.now();
    conn.incoming = conn.incoming.filter((at) => t - at < 1000);
    conn.incoming.push(t);
    if (conn.incoming.length > (this.opts.maxIncomingPerSecond ?? 5)) {
      conn.ws.terminate();
      return false;
    }
    return true;
  }

  protected override onFrame(conn: Conn, text: string | undefined): void {
    if (!this.count(conn)) return;
    const msg = parseJsonObject(text);
    if (!msg) return this.send(conn, { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' });
    const { method, params, id } = msg;
    this.received.push({ conn: conn.id, at: this.now(), method, params, id });
    const validId = id === null || (typeof id === 'number' && Number.isInteger(id)) || (typeof id === 'string' && /^[A-Za-z0-9]{1,36}$/.test(id));
    if (!validId) return this.send(conn, ERR_INVALID_REQUEST);
    const streams = Array.isArray(params) ? params.map(String) : [];
    switch (method) {
      case 'SUBSCRIBE':
        for (const s of streams) conn.streams.add(s);
        return this.send(conn, { result: null, id });
      case 'UNSUBSCRIBE':
        for (const s of streams) conn.streams.delete(s);
        return this.send(conn, { result: null, id });
      case 'LIST_SUBSCRIPTIONS':
        return this.send(conn, { result: [...conn.streams], id });
      case 'GET_PROPERTY':
      case 'SET_PROPERTY':
        if (streams[0] === 'combined') return this.send(conn, { result: method === 'GET_PROPERTY' ? conn.combined : null, id });
        return this.send(conn, { ...ERR_UNKNOWN_PROPERTY, id });
      default:
        return this.send(conn, { code: 2, msg: `Invalid request: unknown variant ${String(method)}`, id });
    }
  }

  /** Sends the events of `changed` symbols for each stream the connection has subscribed. */
  protected override pushTo(conn: Conn, changed: readonly Quote[]): void {
    for (const stream of conn.streams) {
      if (stream === '!ticker@arr' || stream === '!miniTicker@arr') {
        const mini = stream.startsWith('!mini');
        this.event(conn, stream, changed.map((s) => (mini ? this.wsMiniTicker(s) : this.wsTicker(s))));
        continue;
      }
      const [sym, kind] = stream.split('@');
      const s = changed.find((c) => c.symbol.toLowerCase() === sym);
      if (!s) continue;
      if (kind === 'ticker') this.event(conn, stream, this.wsTicker(s));
      else if (kind === 'miniTicker') this.event(conn, stream, this.wsMiniTicker(s));
    }
  }

  private event(conn: Conn, stream: string, data: unknown): void {
    this.send(conn, conn.combined ? { stream, data } : data);
  }

  private wsTicker(s: Quote): Json {
    const t = this.now();
    const change = s.last - s.open;
    const { lastId, count } = this.trades(s);
    return pick(WS_TICKER, {
      e: '24hrTicker', E: t, s: s.symbol,
      p: fmt(change), P: fmt(s.open ? (change / s.open) * 100 : 0, 3), w: fmt((s.high + s.low + s.last) / 3),
      x: fmt(s.open), c: fmt(s.last), Q: fmt(0.001), b: fmt(s.bid), B: fmt(1), a: fmt(s.ask), A: fmt(1),
      o: fmt(s.open), h: fmt(s.high), l: fmt(s.low), v: fmt(s.volume), q: fmt(s.quoteVolume),
      O: t - DAY_MS, C: t, F: lastId - count + 1, L: lastId, n: count,
    });
  }

  private wsMiniTicker(s: Quote): Json {
    return pick(WS_MINI_TICKER, {
      e: '24hrMiniTicker', E: this.now(), s: s.symbol,
      c: fmt(s.last), o: fmt(s.open), h: fmt(s.high), l: fmt(s.low), v: fmt(s.volume), q: fmt(s.quoteVolume),
    });
  }
}

/** Starts the fake on 127.0.0.1 (port 0 = any free port). */
export async function startFakeBinance(opts: FakeBinanceOptions = {}): Promise<FakeBinance> {
  const fake = new FakeBinanceServer(opts);
  await fake.listen(opts.port ?? 0);
  return fake;
}
