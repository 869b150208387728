import type { Logger } from '../log.js';
import { describeError } from '../errors.js';
import { withTimeout } from '../lib/abort.js';
import type { MarketHub } from './hub.js';
import type { Candle, Feed, FeedState, FeedStatus, PriceTick } from './types.js';

const MINUTE_MS = 60_000;
/**
 * Replayed ticks are stamped at least this long before the local recovery time: the first live ticks
 * carry the exchange's event time, which precedes our receipt by the network latency and clock skew.
 */
const STAMP_GUARD_MS = 1000;

export interface GapFillerOptions {
  hub: MarketHub;
  feeds: readonly Feed[];
  log: Logger;
  /** pairs whose rules could fire on the gap's prices (the alert engine knows); default: every subscribed pair */
  pairsNeedingGapfill?: (exchange: string) => string[];
  /**
   * longest stretch filled, in 1-minute candles, from the start of the gap (default 1000 ≈ 16.7 h, what
   * Binance and Bybit serve in one request; OKX serves 300, so 5 h there)
   */
  maxCandles?: number;
  /** a stretch shorter than this is not worth a request per pair (default 1000 ms) */
  minGapMs?: number;
  /** bound on each candle request (default 10 s) */
  timeoutMs?: number;
  /** candle requests in flight per exchange (ccxt's rate limiter spaces them further) */
  concurrency?: number;
  now?: () => number;
  /** told when a fill is over (metrics; tests wait on it instead of sleeping) */
  onFilled?: (report: GapFillReport) => void;
}

export interface GapFillReport {
  exchange: string;
  /** the stretch filled: [from, to) in ms since epoch */
  from: number;
  to: number;
  pairs: number;
  ticks: number;
  /** pairs whose candles could not be fetched (logged) */
  failed: number;
}

interface Track {
  feed: Feed;
  state: FeedState;
  /**
   * Up to when we know the price's extremes: the last streamed tick, or the end of the last fill. Polled
   * ticks do not move it: a poll every 30 s samples the price and misses a wick between two polls, so a
   * stretch carried by polling is filled too once the stream is back.
   */
  knownUntil: number | undefined;
  /** fills of one exchange run one after another, each from where the previous one ended */
  queue: Promise<void>;
}

/**
 * Replays what the market did while we were not listening. When an exchange recovers (its stream comes
 * back, or polling resumes after a failed stretch), fetches 1-minute candles over the uncovered stretch
 * for the pairs that have rules and feeds each candle's low and high into the hub as `gapfill` ticks, so
 * a level crossed and recrossed during the outage still fires (the engine makes it fire once).
 *
 * A candle does not say which extreme came first; we guess from its direction: an up candle (close ≥
 * open) is taken to have made its low first, a down candle its high. Both ticks are stamped inside the
 * part of the candle's minute that lies in the gap (and a second clear of the recovery), so they sort
 * after the last tick before the gap and before the live ticks after it. They are emitted after those
 * live ticks, though: the candles are fetched once the exchange is back. Errors are logged, never thrown:
 * a failed fill costs completeness only.
 */
export class GapFiller {
  private readonly tracks = new Map<string, Track>();
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly maxCandles: number;
  private readonly minGapMs: number;
  private readonly timeoutMs: number;
  private readonly concurrency: number;
  private readonly stopping = new AbortController();
  /** rejects on stop, so a request in flight is abandoned at once instead of awaited to its timeout */
  private readonly stopped: Promise<never>;
  private readonly detach: Array<() => void> = [];

  constructor(private readonly opts: GapFillerOptions) {
    this.log = opts.log.child({ mod: 'gapfill' });
    this.now = opts.now ?? Date.now;
    this.maxCandles = Math.max(1, opts.maxCandles ?? 1000);
    this.minGapMs = opts.minGapMs ?? 1000;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.concurrency = Math.max(1, opts.concurrency ?? 4);
    const signal = this.stopping.signal;
    this.stopped = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
    this.stopped.catch(() => undefined);
  }

  /** Starts watching the feeds; call before the feeds start so the first stretch is seen. */
  start(): void {
    if (this.detach.length > 0 || this.stopping.signal.aborted) return;
    for (const feed of this.opts.feeds) {
      const track: Track = { feed, state: feed.status().state, knownUntil: undefined, queue: Promise.resolve() };
      this.tracks.set(feed.exchange, track);
      const onState = (status: FeedStatus): void => this.onState(track, status.state);
      feed.on('state', onState);
      this.detach.push(() => feed.off('state', onState));
    }
    this.detach.push(this.opts.hub.onTick((tick) => this.onTick(tick)));
  }

  /** Stops at once: a request in flight is abandoned (its answer is dropped), nothing more is asked. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error('gap-fill stopping'));
    for (const off of this.detach.splice(0)) off();
    const queues = [...this.tracks.values()].map((t) => t.queue);
    await withTimeout(Promise.allSettled(queues), 1000, 'gap-fill stop').catch(() => undefined);
  }

  private onTick(tick: PriceTick): void {
    const track = this.tracks.get(tick.exchange);
    if (!track) return;
    if (tick.source === 'stream') track.knownUntil = Math.max(track.knownUntil ?? 0, tick.receivedAt);
    // started while the stream was out: the first poll is the earliest point we can fill from
    else if (tick.source === 'poll' && track.knownUntil === undefined) track.knownUntil = tick.receivedAt;
  }

  private onState(track: Track, next: FeedState): void {
    const prev = track.state;
    if (prev === next) return;
    track.state = next;
    // leaving 'streaming' opens a stretch at knownUntil; only arriving at a carrying state closes one
    const recovered = (next === 'streaming' || next === 'polling') && prev !== 'streaming';
    if (!recovered || this.stopping.signal.aborted) return;
    const at = this.now();
    const from = track.knownUntil;
    if (from === undefined) return; // nothing was ever received: there is no "before" to fill from
    track.knownUntil = at;
    if (at - from < this.minGapMs) return;
    // live ticks wait until the gap's prices have been replayed before them
    const release = this.opts.hub.holdLive(track.feed.exchange);
    track.queue = track.queue
      .then(() => this.fill(track.feed, from, at))
      .finally(release)
      .catch((err: unknown) => this.log.error({ exchange: track.feed.exchange, err: describeError(err) }, 'gap-fill failed; a bug'));
  }

  private async fill(feed: Feed, from: number, to: number): Promise<void> {
    const { exchange } = feed;
    const signal = this.stopping.signal;
    if (signal.aborted) return;
    let pairs: string[];
    try {
      pairs = [...new Set(this.opts.pairsNeedingGapfill?.(exchange) ?? this.opts.hub.subscribedPairs(exchange))];
    } catch (err) {
      return void this.log.error({ exchange, err: describeError(err) }, 'pairsNeedingGapfill threw; this gap is not filled');
    }
    const since = Math.floor(from / MINUTE_MS) * MINUTE_MS;
    const end = Math.min(to, since + this.maxCandles * MINUTE_MS);
    if (end < to) {
      this.log.warn(
        { exchange, gapMin: Math.round((to - from) / MINUTE_MS), filledMin: this.maxCandles },
        `${exchange} was out longer than gap-fill covers; the last ${Math.round((to - end) / MINUTE_MS)} min are not replayed`,
      );
    }
    const limit = Math.ceil((end - since) / MINUTE_MS);
    let [next, ticks, failed] = [0, 0, 0];
    const worker = async (): Promise<void> => {
      for (let pair = pairs[next++]; pair !== undefined && !signal.aborted; pair = pairs[next++]) {
        try {
          const request = withTimeout(feed.fetchOHLCV(pair, since, limit), this.timeoutMs, `${exchange} fetchOHLCV ${pair}`);
          const candles = await Promise.race([request, this.stopped]);
          const out = gapTicks(exchange, pair, candles, from, end, this.now(), Math.max(from, to - STAMP_GUARD_MS));
          for (const tick of out) this.opts.hub.ingest(tick);
          ticks += out.length;
        } catch (err) {
          if (signal.aborted) return;
          failed += 1;
          this.log.warn({ exchange, pair, err: describeError(err) }, `${exchange} gap-fill of ${pair} failed`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, pairs.length) }, worker));
    if (signal.aborted) return;
    const report: GapFillReport = { exchange, from, to: end, pairs: pairs.length, ticks, failed };
    this.log.info(report, `${exchange} gap of ${((to - from) / 1000).toFixed(1)} s filled: ${ticks} ticks for ${pairs.length} pairs`);
    try {
      this.opts.onFilled?.(report);
    } catch (err) {
      this.log.error({ err: describeError(err) }, 'onFilled listener threw');
    }
  }
}

/**
 * Candles → `gapfill` ticks over [from, to), in time order: per candle the extreme reached first by our
 * guess (low first for an up candle, high first for a down one), then the other; one tick when they are
 * equal. Candles wholly outside the stretch give nothing. Stamps fall inside the part of the candle's
 * minute that lies in the stretch, and never after `stampBefore` (only a candle that began in the last
 * moments before `to` is pulled back by it). Pure.
 */
export function gapTicks(
  exchange: string, pair: string, candles: readonly Candle[], from: number, to: number, receivedAt: number, stampBefore = to,
): PriceTick[] {
  const out: PriceTick[] = [];
  const tick = (last: number, exchangeTs: number): PriceTick => ({ exchange, pair, last, exchangeTs, receivedAt, source: 'gapfill' });
  const ceiling = Math.max(from, Math.min(to, stampBefore));
  for (const c of [...candles].sort((a, b) => a.ts - b.ts)) {
    const lo = Math.max(c.ts, from);
    const hi = Math.min(c.ts + MINUTE_MS, to);
    if (hi <= lo) continue;
    const [slo, shi] = [Math.min(lo, ceiling), Math.min(hi, ceiling)];
    const [first, second] = c.close >= c.open ? [c.low, c.high] : [c.high, c.low];
    out.push(tick(first, slo + Math.floor((shi - slo) / 3)));
    if (second !== first) out.push(tick(second, slo + Math.floor((2 * (shi - slo)) / 3)));
  }
  return out;
}
