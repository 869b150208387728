import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';

/**
 * A local Binance spot: the REST endpoints ccxt's loadMarkets/fetchTicker(s) call and the market-data
 * WebSocket with live SUBSCRIBE/UNSUBSCRIBE, built from the recorded payloads in test/fixtures/binance
 * (see SOURCES.md there). Every object the fake sends is a fixture template with the values filled in,
 * so key sets and order match the wire exactly.
 */

const FIXTURES = new URL('../fixtures/binance/', import.meta.url);
type Json = Record<string, unknown>;
const fixture = <T = Json>(name: string): T => JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as T;

const EXCHANGE_INFO = fixture<{ symbols: Array<{ symbol: string; filters: Array<{ filterType: string; tickSize?: string }> }> }>('exchangeInfo.json');
const REST_TICKER = fixture('ticker_24hr_single.json');
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

export interface FakeBinanceOptions {
  port?: number;
  /** push every subscribed stream this often (Binance pushes @ticker each 1000 ms); 0 = only on setPrice */
  emitIntervalMs?: number;
  /** server ping frames (Binance: every 20 s); the client's pongs count towards the message limit */
  pingIntervalMs?: number;
  /** incoming frames per second per connection before the fake disconnects it, as Binance does (5) */
  maxIncomingPerSecond?: number;
  /** starting last prices by exchange symbol, e.g. { ETHUSDT: '3100.5' } */
  prices?: Record<string, string>;
  now?: () => number;
}

export interface PriceOptions {
  open?: string;
  high?: string;
  low?: string;
  bid?: string;
  ask?: string;
  volume?: string;
  quoteVolume?: string;
}

export interface ControlFrame {
  conn: number;
  at: number;
  method: unknown;
  params: unknown;
  id: unknown;
}

export interface ConnectionInfo {
  id: number;
  path: string;
  streams: string[];
}

interface SymbolState {
  symbol: string;
  decimals: number;
  last: number;
  open: number;
  high: number;
  low: number;
  bid: number;
  ask: number;
  volume: number;
  quoteVolume: number;
  lastId: number;
  count: number;
}

interface Conn {
  id: number;
  ws: WebSocket;
  path: string;
  combined: boolean;
  streams: Set<string>;
  incoming: number[];
  pinger: NodeJS.Timeout | undefined;
}

export interface FakeBinance {
  /** put in BINANCE_REST_URL (replaces ccxt urls.api.public verbatim) */
  readonly restUrl: string;
  /** put in BINANCE_WS_URL (replaces ccxt urls.api.ws.spot verbatim; ccxt appends /<n>) */
  readonly wsUrl: string;
  readonly port: number;
  /** answered REST requests by path, e.g. { '/api/v3/ticker/24hr': 2 } */
  readonly restHits: Readonly<Record<string, number>>;
  readonly connections: { readonly current: number; readonly total: number };
  /** every JSON frame received, in order: shows how a client batches and paces its SUBSCRIBEs */
  readonly frames: readonly ControlFrame[];
  subscriptions(): ConnectionInfo[];
  setPrice(symbol: string, last: string, opts?: PriceOptions): void;
  setEmitInterval(ms: number): void;
  stall(on: boolean): void;
  dropAll(): void;
  refuse(on: boolean): void;
  close(): Promise<void>;
}

const fmt = (n: number, decimals = 8): string => n.toFixed(decimals);
const pick = (template: Json, values: Json): Json => {
  const out: Json = {};
  for (const key of Object.keys(template)) {
    if (!(key in values)) throw new Error(`fake binance: no value for fixture key "${key}"`);
    out[key] = values[key];
  }
  return out;
};

class FakeBinanceServer implements FakeBinance {
  restUrl = '';
  wsUrl = '';
  port = 0;
  private readonly hits: Record<string, number> = {};
  private readonly received: ControlFrame[] = [];
  private readonly conns = new Map<number, Conn>();
  private readonly symbols = new Map<string, SymbolState>();
  private readonly sockets = new Set<Socket>();
  private readonly http = http.createServer((req, res) => this.onRequest(req, res));
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly now: () => number;
  private totalConnections = 0;
  private stalled = false;
  private refusing = false;
  private emitTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: FakeBinanceOptions) {
    this.now = opts.now ?? Date.now;
    for (const s of EXCHANGE_INFO.symbols) {
      const tick = s.filters.find((f) => f.filterType === 'PRICE_FILTER')?.tickSize ?? '0.01';
      const decimals = Math.max(0, Math.round(-Math.log10(Number(tick))));
      const recorded = s.symbol === REST_TICKER['symbol'];
      const start = Number(opts.prices?.[s.symbol] ?? (recorded ? REST_TICKER['lastPrice'] : SYNTHETIC_START[s.symbol] ?? '1'));
      const r = (key: string, fallback: number): number => (recorded && !opts.prices?.[s.symbol] ? Number(REST_TICKER[key]) : fallback);
      this.symbols.set(s.symbol, {
        symbol: s.symbol, decimals, last: start,
        open: r('openPrice', start), high: r('highPrice', start), low: r('lowPrice', start),
        bid: r('bidPrice', start - 10 ** -decimals), ask: r('askPrice', start),
        volume: r('volume', 1000), quoteVolume: r('quoteVolume', 1000 * start),
        lastId: recorded ? Number(REST_TICKER['lastId']) : 1000, count: recorded ? Number(REST_TICKER['count']) : 1000,
      });
    }
    this.http.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
    this.setEmitInterval(opts.emitIntervalMs ?? 0);
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    this.restUrl = `http://127.0.0.1:${this.port}/api/v3`;
    // ccxt 4.5.84 decides "spot" by url.indexOf('/stream') (the real host is stream.binance.com), so a local
    // URL must carry /stream in its path; ccxt then dials <this>/0.
    this.wsUrl = `ws://127.0.0.1:${this.port}/stream`;
  }

  get restHits(): Readonly<Record<string, number>> {
    return { ...this.hits };
  }

  get connections(): { current: number; total: number } {
    return { current: this.conns.size, total: this.totalConnections };
  }

  get frames(): readonly ControlFrame[] {
    return this.received;
  }

  subscriptions(): ConnectionInfo[] {
    return [...this.conns.values()].map((c) => ({ id: c.id, path: c.path, streams: [...c.streams] }));
  }

  setPrice(symbol: string, last: string, o: PriceOptions = {}): void {
    const s = this.symbols.get(symbol);
    if (!s) throw new Error(`fake binance: unknown symbol ${symbol}; known: ${[...this.symbols.keys()].join(', ')}`);
    const price = Number(last);
    s.last = price;
    s.open = o.open !== undefined ? Number(o.open) : s.open;
    s.high = o.high !== undefined ? Number(o.high) : Math.max(s.high, price);
    s.low = o.low !== undefined ? Number(o.low) : Math.min(s.low, price);
    s.ask = o.ask !== undefined ? Number(o.ask) : price;
    s.bid = o.bid !== undefined ? Number(o.bid) : price - 10 ** -s.decimals;
    if (o.volume !== undefined) s.volume = Number(o.volume);
    if (o.quoteVolume !== undefined) s.quoteVolume = Number(o.quoteVolume);
    s.lastId += 1;
    s.count += 1;
    for (const conn of this.conns.values()) this.push(conn, [s]);
  }

  setEmitInterval(ms: number): void {
    clearInterval(this.emitTimer);
    this.emitTimer = ms > 0 ? setInterval(() => {
      for (const conn of this.conns.values()) this.push(conn, [...this.symbols.values()]);
    }, ms) : undefined;
  }

  stall(on: boolean): void {
    this.stalled = on;
  }

  dropAll(): void {
    for (const conn of this.conns.values()) conn.ws.terminate();
  }

  refuse(on: boolean): void {
    this.refusing = on;
  }

  async close(): Promise<void> {
    clearInterval(this.emitTimer);
    this.dropAll();
    this.wss.close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  // ---- REST ----

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.refusing) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const send = (status: number, body: unknown): void => {
      this.hits[path] = (this.hits[path] ?? 0) + 1;
      res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8' });
      res.end(JSON.stringify(body));
    };
    const invalidSymbol = (): void => send(400, { code: -1121, msg: 'Invalid symbol.' });
    if (req.method !== 'GET') return send(405, { code: -1000, msg: 'GET only in this fake' });
    switch (path) {
      case '/api/v3/ping':
        return send(200, {});
      case '/api/v3/time':
        return send(200, { serverTime: this.now() });
      case '/api/v3/exchangeInfo':
        return send(200, EXCHANGE_INFO);
      case '/api/v3/klines': {
        if (!this.symbols.has(url.searchParams.get('symbol') ?? '')) return invalidSymbol();
        const limit = Number(url.searchParams.get('limit') ?? 500);
        return send(200, KLINES.slice(-Math.max(1, limit)));
      }
      case '/api/v3/ticker/24hr': {
        const one = url.searchParams.get('symbol');
        const many = url.searchParams.get('symbols');
        if (one !== null) {
          const s = this.symbols.get(one);
          return s ? send(200, this.restTicker(s)) : invalidSymbol();
        }
        if (many !== null) {
          let names: unknown;
          try {
            names = JSON.parse(many);
          } catch {
            return invalidSymbol();
          }
          if (!Array.isArray(names)) return invalidSymbol();
          const found = names.map((n) => this.symbols.get(String(n)));
          if (found.some((s) => s === undefined)) return invalidSymbol();
          return send(200, (found as SymbolState[]).map((s) => this.restTicker(s)));
        }
        return send(200, [...this.symbols.values()].map((s) => this.restTicker(s)));
      }
      default:
        return send(404, { code: -1000, msg: `no such endpoint in the fake: ${path}` });
    }
  }

  private restTicker(s: SymbolState): Json {
    const close = this.now();
    const change = s.last - s.open;
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
      firstId: s.lastId - s.count + 1,
      lastId: s.lastId,
      count: s.count,
    });
  }

  // ---- WebSocket ----

  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'ws://fake');
    const raw = /^\/ws(\/|$)/.test(url.pathname);
    const combined = /^\/stream(\/|$)/.test(url.pathname);
    if (this.refusing || (!raw && !combined)) {
      if (!this.refusing) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      else socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      // /ws/<stream> and /stream?streams=a/b open with those streams; ccxt's /stream/<n> names none
      const initial = raw ? url.pathname.split('/').slice(2) : (url.searchParams.get('streams') ?? '').split('/');
      const conn: Conn = {
        id: ++this.totalConnections, ws, path: url.pathname + url.search, combined,
        streams: new Set(initial.filter((s) => s.includes('@'))), incoming: [], pinger: undefined,
      };
      this.conns.set(conn.id, conn);
      const pingMs = this.opts.pingIntervalMs ?? 20_000;
      if (pingMs > 0) conn.pinger = setInterval(() => ws.ping(), pingMs);
      ws.on('message', (data, isBinary) => this.onFrame(conn, data, isBinary));
      ws.on('ping', () => this.count(conn));
      ws.on('pong', () => this.count(conn));
      ws.on('error', () => ws.terminate());
      ws.on('close', () => {
        clearInterval(conn.pinger);
        this.conns.delete(conn.id);
      });
    });
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

  private onFrame(conn: Conn, data: RawData, isBinary: boolean): void {
    if (!this.count(conn)) return;
    let msg: Json;
    try {
      const parsed: unknown = JSON.parse(isBinary ? '' : data.toString());
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      msg = parsed as Json;
    } catch {
      this.send(conn, { code: 3, msg: 'Invalid JSON: expected value at line 1 column 1' });
      return;
    }
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
  private push(conn: Conn, changed: readonly SymbolState[]): void {
    if (this.stalled) return;
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

  private send(conn: Conn, body: unknown): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(JSON.stringify(body));
  }

  private wsTicker(s: SymbolState): Json {
    const t = this.now();
    const change = s.last - s.open;
    return pick(WS_TICKER, {
      e: '24hrTicker', E: t, s: s.symbol,
      p: fmt(change), P: fmt(s.open ? (change / s.open) * 100 : 0, 3), w: fmt((s.high + s.low + s.last) / 3),
      x: fmt(s.open), c: fmt(s.last), Q: fmt(0.001), b: fmt(s.bid), B: fmt(1), a: fmt(s.ask), A: fmt(1),
      o: fmt(s.open), h: fmt(s.high), l: fmt(s.low), v: fmt(s.volume), q: fmt(s.quoteVolume),
      O: t - DAY_MS, C: t, F: s.lastId - s.count + 1, L: s.lastId, n: s.count,
    });
  }

  private wsMiniTicker(s: SymbolState): Json {
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
