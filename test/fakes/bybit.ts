import { randomUUID } from 'node:crypto';
import {
  FakeExchangeServer, fillTemplate, fixtureReader, parseJsonObject, plain,
  type FakeConn, type FakeExchange, type FakeVenueOptions, type Json, type Quote, type RecordedTickerKeys, type RestReply, type RestRequest,
} from './common.js';

export type { ConnectionInfo, PriceOptions } from './common.js';

/**
 * A local Bybit v5 spot: the REST endpoints ccxt's loadMarkets/fetchTicker(s)/fetchOHLCV call and the
 * public spot WebSocket with live subscribe/unsubscribe and JSON ping/pong, built from the payloads in
 * test/fixtures/bybit (see SOURCES.md there). Every object sent is a fixture template with the values
 * filled in, so key sets and order match the wire.
 */

const fixture = fixtureReader('bybit');

type Instrument = Json & { symbol: string; baseCoin: string; priceFilter: { tickSize: string } };
type Envelope<T> = Json & { result: Json & { list: T[] } };

const INSTRUMENTS = fixture<Envelope<Instrument>>('instruments_info_spot.json');
const TICKERS = fixture<Envelope<Json>>('tickers_spot.json');
const KLINE = fixture<Envelope<string[]>>('kline.json');
const WS_TICKER = fixture<Json & { data: Json }>('ws_tickers_snapshot_spot.json');
const SUB_OK = fixture('ws_subscribe_success_spot.json');
const UNSUB_OK = fixture('ws_unsubscribe_success.json');
const PONG = fixture('ws_pong_spot.json');
const ERR_INVALID_OP = fixture('ws_error_invalid_op.json');

const RECORDED = INSTRUMENTS.result.list[0]!; // BTCUSDT
const REST_TICKER = TICKERS.result.list[0]!; // BTCUSDT, the same doc example family
const REST_TICKER_KEYS: RecordedTickerKeys = {
  last: 'lastPrice', open: 'prevPrice24h', high: 'highPrice24h', low: 'lowPrice24h', bid: 'bid1Price', ask: 'ask1Price', volume: 'volume24h', quoteVolume: 'turnover24h',
};

/**
 * Markets beyond the one recorded instrument, so multi-pair tests (and the 10-args-per-subscribe rule)
 * mean something. Derived: the BTCUSDT instrument cloned with symbol, baseCoin, symbolId and tickSize
 * replaced; tick sizes, symbolIds and starting prices are synthetic round numbers, never real ones.
 */
const DERIVED: Array<[base: string, tick: string, start: string]> = [
  ['ETH', '0.01', '3000.00'], ['SOL', '0.01', '150.00'], ['XRP', '0.0001', '0.6000'], ['DOGE', '0.00001', '0.15000'],
  ['ADA', '0.0001', '0.5000'], ['LTC', '0.01', '80.00'], ['TRX', '0.00001', '0.12000'], ['DOT', '0.001', '6.000'],
  ['LINK', '0.001', '15.000'], ['AVAX', '0.01', '30.00'], ['TON', '0.001', '5.000'],
];
const INSTRUMENT_LIST: Instrument[] = [
  RECORDED,
  ...DERIVED.map(([base, tickSize], i): Instrument => ({
    ...RECORDED, symbolId: 9001 + i, symbol: `${base}USDT`, baseCoin: base, priceFilter: { ...RECORDED.priceFilter, tickSize },
  })),
];
const SYNTHETIC_START = new Map(DERIVED.map(([base, , start]) => [`${base}USDT`, start]));

/** `prices` by exchange symbol, e.g. { ETHUSDT: '3100.5' }; `extraBases` are derived like the other instruments. */
export interface FakeBybitOptions extends FakeVenueOptions {
  /** push every subscribed ticker this often (Bybit spot pushes each 50 ms); 0 = only on setPrice and subscribe */
  emitIntervalMs?: number;
  /** topics one subscribe may carry before the fake rejects it (Bybit spot: 10) */
  maxArgsPerSubscribe?: number;
}

/** One JSON frame the fake received (pings included). */
export interface BybitFrame {
  conn: number;
  at: number;
  op: unknown;
  args: unknown;
  req_id: unknown;
}

export interface FakeBybit extends FakeExchange<BybitFrame> {
  /** put in BYBIT_REST_URL: a bare origin; ccxt appends /v5/... to every REST root */
  readonly restUrl: string;
  /** put in BYBIT_WS_URL (replaces urls.api.ws.public.spot; ccxt dials it verbatim) */
  readonly wsUrl: string;
  /** JSON pings answered with a pong (also while stalled) */
  readonly heartbeats: number;
}

interface Conn extends FakeConn {
  connId: string; // Bybit's conn_id: a UUID per socket
}

const pick = (template: Json, values: Json): Json => fillTemplate('bybit', template, values);
const TOPIC = /^tickers\.([A-Z0-9]+)$/;

class FakeBybitServer extends FakeExchangeServer<Conn, BybitFrame> implements FakeBybit {
  heartbeats = 0;
  private crossSeq = Number(WS_TICKER['cs']);
  private readonly instruments: Instrument[];

  constructor(private readonly opts: FakeBybitOptions) {
    super('bybit', opts);
    this.instruments = [
      ...INSTRUMENT_LIST,
      ...(opts.extraBases ?? []).map((base, i): Instrument => ({
        ...RECORDED, symbolId: 9901 + i, symbol: `${base}USDT`, baseCoin: base, priceFilter: { ...RECORDED.priceFilter, tickSize: '0.0001' },
      })),
    ];
    for (const ins of this.instruments) {
      const price = opts.prices?.[ins.symbol];
      const recorded = ins.symbol === REST_TICKER['symbol'] && !price;
      this.seedQuote(ins.symbol, ins.priceFilter.tickSize, price ?? SYNTHETIC_START.get(ins.symbol) ?? '1', recorded ? { ticker: REST_TICKER, keys: REST_TICKER_KEYS } : undefined);
    }
  }

  protected override urlsFor(origin: string): { restUrl: string; wsUrl: string } {
    return { restUrl: `http://${origin}`, wsUrl: `ws://${origin}/v5/public/spot` };
  }

  // ---- REST ----

  protected override route({ method, path, query }: RestRequest): RestReply {
    const time = this.now();
    const ok = (envelope: Json, result: Json): RestReply => ({ status: 200, body: { ...envelope, result, time } });
    // retCode/retMsg of a refused request; the text is the fake's own (no recorded sample), the shape Bybit's
    const fail = (retMsg: string): RestReply => ({ status: 200, body: { retCode: 10001, retMsg, result: {}, retExtInfo: {}, time } });
    if (method !== 'GET') return { status: 405, body: { retCode: 10001, retMsg: 'GET only in this fake' } };
    if (path.startsWith('/v5/market/') && query.get('category') !== 'spot') return fail(`fake bybit serves category=spot only, got ${query.get('category')}`);
    const symbol = query.get('symbol');
    if (symbol !== null && !this.quotes.has(symbol)) return fail('Not supported symbols');
    switch (path) {
      case '/v5/market/instruments-info':
        return ok(INSTRUMENTS, { ...INSTRUMENTS.result, list: this.instruments.filter((i) => symbol === null || i.symbol === symbol) });
      case '/v5/market/tickers': {
        const list = [...this.quotes.values()].filter((q) => symbol === null || q.symbol === symbol).map((q) => this.restTicker(q));
        return ok(TICKERS, { ...TICKERS.result, list });
      }
      case '/v5/market/kline': {
        if (symbol === null) return fail('params error: symbol is required');
        // the recorded rows (newest first), whatever the interval: a shape reference, not a price history
        const limit = Number(query.get('limit') ?? 200);
        return ok(KLINE, { ...KLINE.result, symbol, category: 'spot', list: KLINE.result.list.slice(0, Math.max(1, limit)) });
      }
      default:
        return { status: 404, body: { retCode: 10001, retMsg: `no such endpoint in the fake: ${path}` } };
    }
  }

  private restTicker(q: Quote): Json {
    return pick(REST_TICKER, {
      symbol: q.symbol, bid1Price: plain(q.bid), bid1Size: '1', ask1Price: plain(q.ask), ask1Size: '1',
      lastPrice: plain(q.last), prevPrice24h: plain(q.open), price24hPcnt: this.pcnt(q),
      highPrice24h: plain(q.high), lowPrice24h: plain(q.low), turnover24h: plain(q.quoteVolume), volume24h: plain(q.volume),
      usdIndexPrice: plain(q.last),
    });
  }

  /** Bybit's 24 h change is a ratio with 4 decimals: "0.0068" for +0.68 %. */
  private pcnt(q: Quote): string {
    return plain(q.open ? Number(((q.last - q.open) / q.open).toFixed(4)) : 0);
  }

  // ---- WebSocket ----

  protected override acceptsPath(pathname: string): boolean {
    return pathname === '/v5/public/spot';
  }

  protected override newConn(base: FakeConn): Conn {
    return { ...base, connId: randomUUID() };
  }

  protected override onFrame(conn: Conn, text: string | undefined): void {
    const msg = parseJsonObject(text);
    if (!msg) return this.send(conn, pick(ERR_INVALID_OP, { ...ERR_INVALID_OP, conn_id: conn.connId }));
    const { op, args, req_id } = msg;
    this.received.push({ conn: conn.id, at: this.now(), op, args, req_id });
    const reqId = req_id === undefined ? '' : String(req_id);
    const topics = Array.isArray(args) ? args.map(String) : [];
    const reply = (template: Json, values: Json): void => this.send(conn, pick(template, { conn_id: conn.connId, req_id: reqId, op, ...values }));
    // no recorded failure frame for a subscribe exists: the shape is a success frame with success:false
    const fail = (ret_msg: string): void => this.send(conn, { success: false, ret_msg, conn_id: conn.connId, req_id: reqId, op });
    switch (op) {
      case 'ping':
        this.heartbeats += 1;
        return reply(PONG, { success: true, ret_msg: 'pong' });
      case 'subscribe': {
        const max = this.opts.maxArgsPerSubscribe ?? 10;
        if (topics.length > max) return fail(`error:args count ${topics.length} exceeds ${max}`);
        const bad = topics.filter((t) => !this.quotes.has(TOPIC.exec(t)?.[1] ?? ''));
        if (bad.length > 0) return fail(`error:handler not found,topic:${bad.join(',')}`);
        for (const t of topics) conn.streams.add(t);
        reply(SUB_OK, { success: true, ret_msg: 'subscribe' });
        // Bybit sends each new ticker topic's snapshot right after the ack
        return this.pushNow(conn, topics.map((t) => this.quote(TOPIC.exec(t)?.[1] ?? '')));
      }
      case 'unsubscribe':
        for (const t of topics) conn.streams.delete(t);
        return reply(UNSUB_OK, { success: true, ret_msg: '' });
      default:
        return this.send(conn, pick(ERR_INVALID_OP, { success: false, ret_msg: 'error:invalid op', conn_id: conn.connId, request: { op: op ?? '', args: args ?? null } }));
    }
  }

  protected override pushTo(conn: Conn, changed: readonly Quote[]): void {
    for (const q of changed) {
      const topic = `tickers.${q.symbol}`;
      if (!conn.streams.has(topic)) continue;
      this.send(conn, pick(WS_TICKER, {
        topic, ts: this.now(), type: 'snapshot', cs: ++this.crossSeq,
        data: pick(WS_TICKER.data, {
          symbol: q.symbol, lastPrice: plain(q.last), highPrice24h: plain(q.high), lowPrice24h: plain(q.low),
          prevPrice24h: plain(q.open), volume24h: plain(q.volume), turnover24h: plain(q.quoteVolume),
          price24hPcnt: this.pcnt(q), usdIndexPrice: plain(q.last),
        }),
      }));
    }
  }
}

/** Starts the fake on 127.0.0.1 (port 0 = any free port). */
export async function startFakeBybit(opts: FakeBybitOptions = {}): Promise<FakeBybit> {
  const fake = new FakeBybitServer(opts);
  await fake.listen(opts.port ?? 0);
  return fake;
}
