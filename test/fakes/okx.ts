import { randomBytes } from 'node:crypto';
import {
  FakeExchangeServer, fillTemplate, fixtureReader, parseJsonObject, plain,
  type FakeConn, type FakeExchange, type FakeVenueOptions, type Json, type Quote, type RecordedTickerKeys, type RestReply, type RestRequest,
} from './common.js';

export type { ConnectionInfo, PriceOptions } from './common.js';

/**
 * A local OKX v5 spot: the REST endpoints ccxt's loadMarkets/fetchTicker(s)/fetchOHLCV call and the
 * public WebSocket (/ws/v5/public) with live subscribe/unsubscribe and the text ping/pong, built from the
 * payloads in test/fixtures/okx (see SOURCES.md there). Every object sent is a fixture template with
 * the values filled in, so key sets and order match the wire; every number is a string, as on OKX.
 */

const fixture = fixtureReader('okx');

type Instrument = Json & { instId: string; baseCcy: string; tickSz: string };
type Envelope<T> = Json & { data: T[] };
type Arg = { channel: string; instId: string };

const INSTRUMENTS = fixture<Envelope<Instrument>>('instruments_spot.json');
const REST_TICKER = fixture<Envelope<Json>>('ticker_single.json').data[0]!;
const CANDLES = fixture<Envelope<string[]>>('candles.json');
const PUSH = fixture<Json & { data: Json[] }>('ws_tickers_push.json');
const SUB_EVENT = fixture('ws_subscribe_event.json');
const ERR_EVENT = fixture('ws_error_event.json');

const RECORDED = INSTRUMENTS.data[0]!; // BTC-USDT
const RECORDED_TICKER = PUSH.data[0]!; // BTC-USDT: the only recorded ticker of a market the fake lists
const RECORDED_TICKER_KEYS: RecordedTickerKeys = {
  last: 'last', open: 'open24h', high: 'high24h', low: 'low24h', bid: 'bidPx', ask: 'askPx', volume: 'vol24h', quoteVolume: 'volCcy24h',
};

/**
 * Markets beyond the one recorded instrument, so multi-pair tests mean something. Derived: the BTC-USDT
 * instrument cloned with instId, baseCcy and tickSz replaced; tick sizes and starting prices are
 * synthetic round numbers, never real ones.
 */
const DERIVED: Array<[base: string, tick: string, start: string]> = [
  ['ETH', '0.01', '3000.00'], ['SOL', '0.01', '150.00'], ['XRP', '0.0001', '0.6000'],
  ['DOGE', '0.00001', '0.15000'], ['ADA', '0.0001', '0.5000'], ['LTC', '0.01', '80.00'],
];
const INSTRUMENT_LIST: Instrument[] = [
  RECORDED,
  ...DERIVED.map(([base, tickSz]): Instrument => ({ ...RECORDED, instId: `${base}-USDT`, baseCcy: base, tickSz })),
];
const SYNTHETIC_START = new Map(DERIVED.map(([base, , start]) => [`${base}-USDT`, start]));

/** `prices` by instId, e.g. { 'ETH-USDT': '3100.5' }; `extraBases` are derived like the other instruments. */
export interface FakeOkxOptions extends FakeVenueOptions {
  /** push every subscribed ticker this often (OKX: every 100 ms while it changes); 0 = only on setPrice and subscribe */
  emitIntervalMs?: number;
}

/** One JSON frame the fake received (text pings are counted in `heartbeats` instead). */
export interface OkxFrame {
  conn: number;
  at: number;
  op: unknown;
  args: unknown;
}

export interface FakeOkx extends FakeExchange<OkxFrame> {
  /** put in OKX_REST_URL: a bare origin; ccxt appends /api/v5/... */
  readonly restUrl: string;
  /** put in OKX_WS_URL (replaces urls.api.ws; ccxt appends /public for tickers) */
  readonly wsUrl: string;
  /** text `ping` frames answered with `pong` (also while stalled) */
  readonly heartbeats: number;
}

interface Conn extends FakeConn {
  connId: string; // OKX's connId: 8 hex digits per socket
}

const pick = (template: Json, values: Json): Json => fillTemplate('okx', template, values);
const stream = (a: Arg): string => `${a.channel}:${a.instId}`;

class FakeOkxServer extends FakeExchangeServer<Conn, OkxFrame> implements FakeOkx {
  heartbeats = 0;
  private readonly instruments: Instrument[];

  constructor(opts: FakeOkxOptions) {
    super('okx', opts);
    this.instruments = [
      ...INSTRUMENT_LIST,
      ...(opts.extraBases ?? []).map((base): Instrument => ({ ...RECORDED, instId: `${base}-USDT`, baseCcy: base, tickSz: '0.0001' })),
    ];
    for (const ins of this.instruments) {
      const price = opts.prices?.[ins.instId];
      const recorded = ins.instId === RECORDED_TICKER['instId'] && !price;
      this.seedQuote(ins.instId, ins.tickSz, price ?? SYNTHETIC_START.get(ins.instId) ?? '1', recorded ? { ticker: RECORDED_TICKER, keys: RECORDED_TICKER_KEYS } : undefined);
    }
  }

  protected override urlsFor(origin: string): { restUrl: string; wsUrl: string } {
    return { restUrl: `http://${origin}`, wsUrl: `ws://${origin}/ws/v5` };
  }

  // ---- REST ----

  protected override route({ method, path, query }: RestRequest): RestReply {
    const ok = (data: unknown[]): RestReply => ({ status: 200, body: { code: '0', msg: '', data } });
    if (method !== 'GET') return { status: 405, body: { code: '50000', msg: 'GET only in this fake', data: [] } };
    const instId = query.get('instId');
    // code and text of OKX's "Instrument ID does not exist" (51001), not a recorded frame
    if (instId !== null && !this.quotes.has(instId)) return { status: 200, body: { code: '51001', msg: 'Instrument ID does not exist', data: [] } };
    switch (path) {
      case '/api/v5/public/instruments':
        // the fake lists spot only: any other instType is an empty list, and restHits shows it was asked
        return ok(query.get('instType') === 'SPOT' ? this.instruments.filter((i) => instId === null || i.instId === instId) : []);
      case '/api/v5/market/ticker':
        return instId === null ? { status: 200, body: { code: '50014', msg: 'Parameter instId can not be empty.', data: [] } } : ok([this.ticker(REST_TICKER, this.quote(instId))]);
      case '/api/v5/market/tickers':
        return ok(query.get('instType') === 'SPOT' ? [...this.quotes.values()].map((q) => this.ticker(REST_TICKER, q)) : []);
      case '/api/v5/market/candles': {
        // the recorded rows (newest first), whatever the bar: a shape reference, not a price history
        const limit = Number(query.get('limit') ?? 100);
        return ok(CANDLES.data.slice(0, Math.max(1, limit)));
      }
      default:
        return { status: 404, body: { code: '50000', msg: `no such endpoint in the fake: ${path}`, data: [] } };
    }
  }

  /** One ticker object in `template`'s key order (REST and push order their keys differently). */
  private ticker(template: Json, q: Quote): Json {
    return pick(template, {
      instType: 'SPOT', instId: q.symbol, last: plain(q.last), lastSz: '0.001',
      askPx: plain(q.ask), askSz: '1', bidPx: plain(q.bid), bidSz: '1',
      open24h: plain(q.open), high24h: plain(q.high), low24h: plain(q.low),
      // start-of-day opens (UTC+0 / UTC+8): the fake keeps one 24 h open for all three
      sodUtc0: plain(q.open), sodUtc8: plain(q.open),
      volCcy24h: plain(q.quoteVolume), vol24h: plain(q.volume), ts: String(this.now()),
    });
  }

  // ---- WebSocket ----

  protected override acceptsPath(pathname: string): boolean {
    return pathname === '/ws/v5/public';
  }

  protected override newConn(base: FakeConn): Conn {
    return { ...base, connId: randomBytes(4).toString('hex') };
  }

  private error(conn: Conn, code: string, msg: string): void {
    this.send(conn, pick(ERR_EVENT, { event: 'error', msg, code, connId: conn.connId }));
  }

  protected override onFrame(conn: Conn, text: string | undefined): void {
    if (text === 'ping') {
      this.heartbeats += 1;
      return this.send(conn, 'pong'); // a bare text frame, not JSON
    }
    const msg = parseJsonObject(text);
    if (!msg) return this.error(conn, '60012', `Illegal request: ${text ?? '<binary>'}`);
    const { op, args } = msg;
    this.received.push({ conn: conn.id, at: this.now(), op, args });
    const list: Arg[] = (Array.isArray(args) ? args : []).map((a: unknown) => {
      const { channel, instId } = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
      return { channel: String(channel), instId: String(instId) };
    });
    switch (op) {
      case 'subscribe': {
        const added: Quote[] = [];
        for (const a of list) {
          if (a.channel !== 'tickers' || !this.quotes.has(a.instId)) {
            // OKX's code for a channel/instId that does not exist; the wording is from memory, no recorded frame
            this.error(conn, '60018', `Wrong URL or channel:${a.channel},instId:${a.instId} doesn't exist. Please use the correct URL, channel and parameters referring to API document.`);
            continue;
          }
          conn.streams.add(stream(a));
          // OKX acknowledges each arg of a subscribe in its own event
          this.send(conn, pick(SUB_EVENT, { event: 'subscribe', arg: a, connId: conn.connId }));
          added.push(this.quote(a.instId));
        }
        // a new tickers subscription gets the current ticker straight away
        return this.pushNow(conn, added);
      }
      case 'unsubscribe':
        for (const a of list) {
          conn.streams.delete(stream(a));
          // the subscribe event's shape with event "unsubscribe", as the OKX docs show it
          this.send(conn, pick(SUB_EVENT, { event: 'unsubscribe', arg: a, connId: conn.connId }));
        }
        return;
      default:
        return this.error(conn, '60012', `Illegal request: ${text}`);
    }
  }

  protected override pushTo(conn: Conn, changed: readonly Quote[]): void {
    for (const q of changed) {
      const arg: Arg = { channel: 'tickers', instId: q.symbol };
      if (conn.streams.has(stream(arg))) this.send(conn, pick(PUSH, { arg, data: [this.ticker(RECORDED_TICKER, q)] }));
    }
  }
}

/** Starts the fake on 127.0.0.1 (port 0 = any free port). */
export async function startFakeOkx(opts: FakeOkxOptions = {}): Promise<FakeOkx> {
  const fake = new FakeOkxServer(opts);
  await fake.listen(opts.port ?? 0);
  return fake;
}
