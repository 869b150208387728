import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/**
 * What every local fake exchange shares: one HTTP server on 127.0.0.1 for REST and the WebSocket
 * upgrade, request counters, the live connections, a price book, and the fault controls tests drive
 * (stall, drop, refuse). A venue file adds only its wire format: REST routes, frames in and out.
 */

export type Json = Record<string, unknown>;

/** Loads JSON fixtures of one venue from test/fixtures/<venue>/. */
export function fixtureReader(venue: string): <T = Json>(name: string) => T {
  const dir = new URL(`../fixtures/${venue}/`, import.meta.url);
  return <T = Json>(name: string): T => JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as T;
}

/**
 * Fills a recorded payload's keys, in the recorded order, so what the fake sends has exactly the key set
 * the exchange sends; a key without a value is a bug in the fake, not something to paper over.
 */
export function fillTemplate(venue: string, template: Json, values: Json): Json {
  const out: Json = {};
  for (const key of Object.keys(template)) {
    if (!(key in values)) throw new Error(`fake ${venue}: no value for fixture key "${key}"`);
    out[key] = values[key];
  }
  return out;
}

/** Decimals of a tick size such as "0.01" → 2. */
export const tickDecimals = (tick: string): number => Math.max(0, Math.round(-Math.log10(Number(tick))));

/** Number as exchanges without fixed-width decimals print it: "21109.77", "0.0196", "20575". */
export const plain = (n: number): string => String(Number(n.toFixed(10)));

/** A text frame's JSON object; undefined for a binary frame, bad JSON, an array or a scalar. */
export function parseJsonObject(text: string | undefined): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(text ?? '');
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : undefined;
  } catch {
    return undefined;
  }
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

/** Where a venue's recorded ticker keeps each starting value of a Quote, e.g. last: 'lastPrice'. */
export type RecordedTickerKeys = Record<'last' | 'open' | 'high' | 'low' | 'bid' | 'ask' | 'volume' | 'quoteVolume', string>;

/** One market's state; every push and REST answer is rendered from it. */
export interface Quote {
  symbol: string; // exchange id, e.g. BTCUSDT or BTC-USDT
  decimals: number; // of the price tick: the default bid sits one tick under last
  last: number;
  open: number;
  high: number;
  low: number;
  bid: number;
  ask: number;
  volume: number;
  quoteVolume: number;
  /** setPrice calls so far: venues derive trade ids, counters and sequence numbers from it */
  updates: number;
}

export interface ConnectionInfo {
  id: number;
  path: string;
  /** subscribed topics in the venue's own notation (btcusdt@ticker, tickers.BTCUSDT, tickers:BTC-USDT) */
  streams: string[];
}

export interface FakeConn {
  id: number;
  ws: WebSocket;
  path: string;
  streams: Set<string>;
}

export interface RestRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

export interface RestReply {
  status: number;
  body: unknown;
}

/** Which side refuse() cuts. */
export type RefuseTarget = 'all' | 'ws' | 'rest';

export interface FakeServerOptions {
  /** push every subscribed stream this often; 0 = only on setPrice */
  emitIntervalMs?: number;
  now?: () => number;
}

/** What every start function takes besides its venue's own knobs. */
export interface FakeVenueOptions extends FakeServerOptions {
  /** 0 (the default) = any free port */
  port?: number;
  /** starting last prices by exchange symbol (BTCUSDT, BTC-USDT); a priced market starts synthetic, not recorded */
  prices?: Record<string, string>;
  /** more USDT markets beyond the listed ones, by base asset (e.g. ['P01', 'P02']); synthetic, starting at 1 unless `prices` says otherwise */
  extraBases?: readonly string[];
}

/** The control surface every fake exchange offers to tests; `F` is the venue's record of a control frame. */
export interface FakeExchange<F> {
  readonly restUrl: string;
  readonly wsUrl: string;
  readonly port: number;
  /** answered REST requests by path, e.g. { '/v5/market/tickers': 2 } */
  readonly restHits: Readonly<Record<string, number>>;
  readonly connections: { readonly current: number; readonly total: number };
  /** every control frame received, in order: shows how a client batches and paces its subscribes */
  readonly frames: readonly F[];
  subscriptions(): ConnectionInfo[];
  setPrice(symbol: string, last: string, opts?: PriceOptions): void;
  setEmitInterval(ms: number): void;
  /** on: sockets stay open and heartbeats are answered, but no market data is sent */
  stall(on: boolean): void;
  /** terminates every WebSocket connection (no close frame), as a network cut does */
  dropAll(): void;
  /**
   * on: REST requests and WebSocket upgrades are cut at the TCP level; `what` narrows it to one side, e.g.
   * 'ws' for a stream outage that the REST poller can still bridge
   */
  refuse(on: boolean, what?: RefuseTarget): void;
  close(): Promise<void>;
}

export abstract class FakeExchangeServer<C extends FakeConn, F> implements FakeExchange<F> {
  restUrl = '';
  wsUrl = '';
  port = 0;
  protected readonly quotes = new Map<string, Quote>();
  protected readonly conns = new Map<number, C>();
  protected readonly received: F[] = [];
  protected readonly now: () => number;
  private readonly hits: Record<string, number> = {};
  private readonly sockets = new Set<Socket>();
  private readonly http = http.createServer((req, res) => this.onRequest(req, res));
  private readonly wss = new WebSocketServer({ noServer: true });
  private totalConnections = 0;
  private stalled = false;
  private refusing = { rest: false, ws: false };
  private emitTimer: NodeJS.Timeout | undefined;

  constructor(protected readonly venue: string, private readonly baseOpts: FakeServerOptions) {
    this.now = baseOpts.now ?? Date.now;
    this.http.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket as Socket, head));
  }

  // ---- what a venue supplies ----

  /** restUrl and wsUrl as an operator would put them in the environment */
  protected abstract urlsFor(origin: string): { restUrl: string; wsUrl: string };
  protected abstract route(req: RestRequest): RestReply;
  protected abstract acceptsPath(pathname: string): boolean;
  /** the venue's connection record; may read the URL and attach listeners or timers */
  protected abstract newConn(base: FakeConn, url: URL): C;
  /** a text frame, or undefined for a binary one */
  protected abstract onFrame(conn: C, text: string | undefined): void;
  /** market data of `changed` quotes for the streams `conn` subscribed; never called while stalled */
  protected abstract pushTo(conn: C, changed: readonly Quote[]): void;
  protected onClosed(_conn: C): void {}

  // ---- lifecycle ----

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (this.http.address() as AddressInfo).port;
    ({ restUrl: this.restUrl, wsUrl: this.wsUrl } = this.urlsFor(`127.0.0.1:${this.port}`));
    this.setEmitInterval(this.baseOpts.emitIntervalMs ?? 0);
  }

  async close(): Promise<void> {
    clearInterval(this.emitTimer);
    this.dropAll();
    this.wss.close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  // ---- controls ----

  get restHits(): Readonly<Record<string, number>> {
    return { ...this.hits };
  }

  get connections(): { current: number; total: number } {
    return { current: this.conns.size, total: this.totalConnections };
  }

  get frames(): readonly F[] {
    return this.received;
  }

  subscriptions(): ConnectionInfo[] {
    return [...this.conns.values()].map((c) => ({ id: c.id, path: c.path, streams: [...c.streams] }));
  }

  setPrice(symbol: string, last: string, o: PriceOptions = {}): void {
    const q = this.quote(symbol);
    const price = Number(last);
    q.last = price;
    q.open = o.open !== undefined ? Number(o.open) : q.open;
    q.high = o.high !== undefined ? Number(o.high) : Math.max(q.high, price);
    q.low = o.low !== undefined ? Number(o.low) : Math.min(q.low, price);
    q.ask = o.ask !== undefined ? Number(o.ask) : price;
    q.bid = o.bid !== undefined ? Number(o.bid) : price - 10 ** -q.decimals;
    if (o.volume !== undefined) q.volume = Number(o.volume);
    if (o.quoteVolume !== undefined) q.quoteVolume = Number(o.quoteVolume);
    q.updates += 1;
    this.pushAll([q]);
  }

  setEmitInterval(ms: number): void {
    clearInterval(this.emitTimer);
    this.emitTimer = ms > 0 ? setInterval(() => this.pushAll([...this.quotes.values()]), ms) : undefined;
  }

  stall(on: boolean): void {
    this.stalled = on;
  }

  dropAll(): void {
    for (const conn of this.conns.values()) conn.ws.terminate();
  }

  refuse(on: boolean, what: RefuseTarget = 'all'): void {
    if (what !== 'ws') this.refusing.rest = on;
    if (what !== 'rest') this.refusing.ws = on;
  }

  // ---- helpers for venues ----

  /** whether market data may go out now (false while stalled) */
  protected get streaming(): boolean {
    return !this.stalled;
  }

  /**
   * Adds a market's starting quote. `recorded`: the venue's recorded ticker of this market, whose values it
   * takes (unless the test priced it); otherwise `start` with a one-tick spread and a volume of 1000.
   */
  protected seedQuote(symbol: string, tickSize: string, start: string, recorded?: { ticker: Json; keys: RecordedTickerKeys }): void {
    const decimals = tickDecimals(tickSize);
    const r = (key: keyof RecordedTickerKeys, fallback: number): number => (recorded ? Number(recorded.ticker[recorded.keys[key]]) : fallback);
    const last = r('last', Number(start));
    this.quotes.set(symbol, {
      symbol, decimals, last,
      open: r('open', last), high: r('high', last), low: r('low', last),
      bid: r('bid', last - 10 ** -decimals), ask: r('ask', last),
      volume: r('volume', 1000), quoteVolume: r('quoteVolume', 1000 * last), updates: 0,
    });
  }

  protected quote(symbol: string): Quote {
    const q = this.quotes.get(symbol);
    if (!q) throw new Error(`fake ${this.venue}: unknown symbol ${symbol}; known: ${[...this.quotes.keys()].join(', ')}`);
    return q;
  }

  /** Pushes `changed` to one connection unless stalled (e.g. the snapshot right after a subscribe). */
  protected pushNow(conn: C, changed: readonly Quote[]): void {
    if (!this.stalled) this.pushTo(conn, changed);
  }

  /** JSON for objects; a string goes out verbatim as a text frame (OKX's `pong`). */
  protected send(conn: C, body: unknown): void {
    if (conn.ws.readyState === conn.ws.OPEN) conn.ws.send(typeof body === 'string' ? body : JSON.stringify(body));
  }

  private pushAll(changed: readonly Quote[]): void {
    if (this.stalled) return;
    for (const conn of this.conns.values()) this.pushTo(conn, changed);
  }

  // ---- transport ----

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (this.refusing.rest) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const { status, body } = this.route({ method: req.method ?? 'GET', path: url.pathname, query: url.searchParams });
    this.hits[url.pathname] = (this.hits[url.pathname] ?? 0) + 1;
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8' });
    res.end(JSON.stringify(body));
  }

  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.refusing.ws) {
      socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'ws://fake');
    if (!this.acceptsPath(url.pathname)) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const base: FakeConn = { id: ++this.totalConnections, ws, path: url.pathname + url.search, streams: new Set() };
      const conn = this.newConn(base, url);
      this.conns.set(conn.id, conn);
      ws.on('message', (data, isBinary) => this.onFrame(conn, isBinary ? undefined : data.toString()));
      ws.on('error', () => ws.terminate());
      ws.on('close', () => {
        this.onClosed(conn);
        this.conns.delete(conn.id);
      });
    });
  }
}
