/**
 * The in-memory alert engine: rules × ticks → firings. Pure: no I/O and no clock; time is the tick's
 * `exchangeTs` (t below) and the price its `last` (p).
 *
 * What a rule promises (bench/naive-engine.ts states the same as a plain scan; tests hold the two equal):
 * - Thresholds are the user's decimal strings, converted once with Number(); all comparisons are on numbers.
 *   A tick whose price is not a positive finite number is ignored.
 * - A rule whose expiresAt ≤ t never fires and changes nothing (it is dropped when next touched).
 * - A `once` rule fires at most once (`final`, and the engine forgets it). After an `every` rule fires it is
 *   disarmed until t ≥ lastFiredAt + cooldownSec·1000 (level rules also wait for the price to go back);
 *   it is re-armed by a tick of its pair, which may fire it at once.
 * - level (op, L): fires on the first tick with `p op L`, the first tick after creation included. An
 *   `every` level re-arms once some tick had `p op L` false (wentBack) and the cooldown is over, so a price
 *   hovering at the level fires once, not on every tick.
 * - crosses (L): side = which side of L the price is on; the first tick only records it (no firing) and a
 *   price exactly at L changes nothing. A tick strictly on the other side flips the side and fires if armed;
 *   crossings during a cooldown flip the side silently.
 * - move (dir, P): the first tick sets referencePrice (no firing). up fires at p ≥ ref·(1+P/100), down at
 *   p ≤ ref·(1−P/100), any at either. An `every` move resets ref to the firing price (so a watchlist speaks
 *   after each further P% move); ref changes only on a firing.
 * - window_move (dir, P, W): per pair, the low and high of each minute of tick time. The window at t is the
 *   minutes from the one containing t − W to the newest; up fires at p ≥ low·(1+P/100), down at
 *   p ≤ high·(1−P/100). After a firing the rule looks only at minutes after the firing's minute, so the
 *   move that fired is not counted again and it cannot fire twice within one minute. W is capped at
 *   `maxWindowSec` (history older than that is not kept). A tick older than its pair's newest counts as
 *   the newest time for windows.
 * - Firings come out in ascending rule id order, each with the rule's new state (fireCount + 1,
 *   lastFiredAt = t, armed false) to persist with the notification.
 * - State changes without a firing (side, ref, wentBack, re-arming) stay in memory until `takeDirtyStates`
 *   hands them to the store, which may persist them lazily: losing one on a crash only means a crosses
 *   rule re-learns its side or a move rule its reference from the next price.
 *
 * How it stays O(log n + changes) per tick: every rule sits in the few sorted lists of its pair that name
 * the next price or time at which its state could change (pair-book.ts); a tick pops only what it reaches
 * and runs `advance` on those rules alone. Rules are columns (rule-columns.ts), not objects.
 */
import { BookTable, PairBook, sinceMinute, windowStart } from './pair-book.js';
import { ABOVE, BELOW, CROSSES, DOWN, LEVEL, MOVE, RuleColumns, UP, WENT_FALSE, WENT_TRUE, WINDOW } from './rule-columns.js';
import { MINUTE_MS } from './windows.js';
import type { EngineRule, Firing, RuleRuntimeState } from './types.js';
import type { PriceTick } from '../market/types.js';

export interface AlertEngineOptions {
  /** longest window kept, in seconds; default 7 days (the grammar's maximum) */
  maxWindowSec?: number;
}

export class AlertEngine {
  private readonly cols = new RuleColumns();
  private readonly slotsById = new Map<number, number>();
  private readonly booksByExchange = new Map<string, Map<string, PairBook>>();
  private readonly books: (PairBook | undefined)[] = [];
  private readonly freeBooks: number[] = [];
  private readonly table = new BookTable();
  private readonly dirty = new Set<number>();
  /** reused by every tick: most ticks reach nothing and should allocate nothing */
  private readonly picked: number[] = [];
  private readonly maxWindowSec: number;

  constructor(opts: AlertEngineOptions = {}) {
    this.maxWindowSec = opts.maxWindowSec ?? 7 * 86_400;
  }

  /** Adds a rule, replacing any with the same id. Throws RangeError on a threshold that is not a number. */
  add(rule: EngineRule): void {
    const c = rule.condition;
    const text = c.kind === 'level' || c.kind === 'crosses' ? c.price : c.percent;
    const value = Number(text);
    // Number('') is 0: an empty threshold would silently become "price > 0"
    if (text.trim() === '' || !Number.isFinite(value)) throw new RangeError(`rule ${rule.id}: "${text}" is not a number`);
    if (c.kind === 'window_move' && !(c.windowSec > 0)) throw new RangeError(`rule ${rule.id}: window must be positive`);
    if (rule.repeat.kind === 'every' && !(rule.repeat.cooldownSec >= 0)) {
      throw new RangeError(`rule ${rule.id}: cooldown must be zero or more`);
    }
    this.remove(rule.id);
    const book = this.bookFor(rule.exchange, rule.pair);
    const slot = this.cols.alloc();
    this.cols.write(slot, rule, book.index, value);
    this.slotsById.set(rule.id, slot);
    book.rules++;
    book.touch(slot, true);
  }

  remove(id: number): boolean {
    const slot = this.slotsById.get(id);
    if (slot === undefined) return false;
    this.drop(slot);
    return true;
  }

  get(id: number): EngineRule | undefined {
    const slot = this.slotsById.get(id);
    if (slot === undefined) return undefined;
    const c = this.cols;
    const book = this.books[c.book[slot]!]!;
    const cooldownSec = c.cooldownSec[slot]!;
    const expiresAt = c.expiresAt[slot]!;
    const rule: EngineRule = {
      id,
      exchange: book.exchange,
      pair: book.pair,
      condition: c.condition(slot),
      repeat: Number.isNaN(cooldownSec) ? { kind: 'once' } : { kind: 'every', cooldownSec },
      state: c.state(slot),
    };
    if (!Number.isNaN(expiresAt)) rule.expiresAt = expiresAt;
    return rule;
  }

  size(): number {
    return this.slotsById.size;
  }

  /** The (exchange, pair)s that have rules: what the market hub must stream. */
  *pairs(): Iterable<{ exchange: string; pair: string }> {
    for (const book of this.books) if (book && book.rules > 0) yield { exchange: book.exchange, pair: book.pair };
  }

  evaluate(tick: PriceTick): Firing[] {
    const p = tick.last;
    const t = tick.exchangeTs;
    // thresholds grow with the percent only for positive prices, and the sorted lists rely on that
    if (!(p > 0 && p < Infinity) || !Number.isFinite(t)) return [];
    // a book even without rules: a window rule added later must see the minutes before it
    const book = this.bookFor(tick.exchange, tick.pair);
    const tw = book.record(t, p);
    const picked = this.picked;
    book.pick(p, t, tw, picked);
    if (picked.length === 0) return [];
    // a rule can be reached through two lists (a move "any", a cooldown end and a level): advance it once
    picked.sort((a, b) => a - b);
    const firings: Firing[] = [];
    try {
      for (let i = 0; i < picked.length; i++) {
        const slot = picked[i]!;
        if (i === 0 || slot !== picked[i - 1]) this.step(slot, book, tick, tw, firings);
      }
    } finally {
      picked.length = 0;
    }
    return firings.length > 1 ? firings.sort((a, b) => a.ruleId - b.ruleId) : firings;
  }

  /** Drops every rule with expiresAt ≤ now, and the price history of idle pairs; returns the ids dropped. */
  sweepExpired(now: number): number[] {
    const c = this.cols;
    const ids: number[] = [];
    for (let slot = 0; slot < c.extent; slot++) {
      if (c.expiresAt[slot]! <= now && !Number.isNaN(c.id[slot]!)) {
        ids.push(c.id[slot]!);
        this.drop(slot);
      }
    }
    for (const book of this.books) {
      if (book && book.rules === 0 && book.lastTs <= now - this.maxWindowSec * 1000 - MINUTE_MS) {
        this.booksByExchange.get(book.exchange)?.delete(book.pair);
        this.books[book.index] = undefined;
        this.freeBooks.push(book.index);
      }
    }
    return ids.sort((a, b) => a - b);
  }

  /**
   * Returns and forgets the states changed since the last call without a firing (a firing carries its
   * state itself): the store persists these when convenient. Rules removed since are not included.
   */
  takeDirtyStates(): Map<number, RuleRuntimeState> {
    const out = new Map<number, RuleRuntimeState>();
    for (const slot of this.dirty) out.set(this.cols.id[slot]!, this.cols.state(slot));
    this.dirty.clear();
    return out;
  }

  private step(slot: number, book: PairBook, tick: PriceTick, tw: number, firings: Firing[]): void {
    const c = this.cols;
    const t = tick.exchangeTs;
    if (c.expiresAt[slot]! <= t) return this.drop(slot);
    book.touch(slot, false);
    const before = c.armed[slot]! | (c.side[slot]! << 1) | (c.wentBack[slot]! << 3);
    const ref = c.ref[slot]!;
    if (!this.advance(slot, book, tick.last, t, tw)) {
      book.touch(slot, true);
      const after = c.armed[slot]! | (c.side[slot]! << 1) | (c.wentBack[slot]! << 3);
      if (after !== before || !Object.is(ref, c.ref[slot]!)) this.dirty.add(slot);
      return;
    }
    c.fireCount[slot]!++;
    c.lastFiredAt[slot] = t;
    c.armed[slot] = 0;
    const final = Number.isNaN(c.cooldownSec[slot]!);
    const { exchange, pair, last: price, source } = tick;
    firings.push({ ruleId: c.id[slot]!, exchange, pair, price, at: t, source, state: c.state(slot), final, condition: c.condition(slot) });
    if (final) this.drop(slot);
    else {
      this.dirty.delete(slot);
      book.touch(slot, true);
    }
  }

  /** One rule, one tick: applies the state changes and says whether it fires (the caller records the firing). */
  private advance(slot: number, book: PairBook, p: number, t: number, tw: number): boolean {
    const c = this.cols;
    const every = !Number.isNaN(c.cooldownSec[slot]!);
    if (c.armed[slot] === 0 && !every) return false;
    const last = c.lastFiredAt[slot]!;
    const cooledDown = every && (Number.isNaN(last) || t >= last + c.cooldownSec[slot]! * 1000);
    const v = c.value[slot]!;
    const kind = c.kind[slot]!;
    if (kind === LEVEL) {
      const op = c.variant[slot]!;
      const hit = op === 0 ? p > v : op === 1 ? p >= v : op === 2 ? p < v : p <= v;
      if (c.armed[slot] === 0) {
        if (!hit) c.wentBack[slot] = WENT_TRUE;
        if (c.wentBack[slot] === WENT_TRUE && cooledDown) c.armed[slot] = 1;
      }
      if (c.armed[slot] === 0 || !hit) return false;
      c.wentBack[slot] = WENT_FALSE;
      return true;
    }
    if (c.armed[slot] === 0 && cooledDown) c.armed[slot] = 1;
    const armed = c.armed[slot] === 1;
    const dir = c.variant[slot]!;
    if (kind === CROSSES) {
      const now = p > v ? ABOVE : p < v ? BELOW : 0;
      const side = c.side[slot]!;
      if (now === 0 || now === side) return false;
      c.side[slot] = now;
      return side !== 0 && armed;
    }
    if (kind === MOVE) {
      const ref = c.ref[slot]!;
      if (Number.isNaN(ref)) {
        c.ref[slot] = p;
        return false;
      }
      const hit = (dir !== DOWN && p >= ref * (1 + v / 100)) || (dir !== UP && p <= ref * (1 - v / 100));
      if (!armed || !hit) return false;
      if (every) c.ref[slot] = p;
      return true;
    }
    if (kind !== WINDOW || !armed) return false;
    const start = Math.max(windowStart(tw, Math.min(c.windowSec[slot]!, this.maxWindowSec)), sinceMinute(last));
    return (
      (dir !== DOWN && p >= book.low(start) * (1 + v / 100)) ||
      (dir !== UP && p <= book.high(start) * (1 - v / 100))
    );
  }

  private drop(slot: number): void {
    const c = this.cols;
    const book = this.books[c.book[slot]!]!;
    book.touch(slot, false);
    book.rules--;
    this.slotsById.delete(c.id[slot]!);
    this.dirty.delete(slot);
    c.release(slot);
  }

  private bookFor(exchange: string, pair: string): PairBook {
    let byPair = this.booksByExchange.get(exchange);
    if (!byPair) this.booksByExchange.set(exchange, (byPair = new Map()));
    let book = byPair.get(pair);
    if (!book) {
      const index = this.freeBooks.pop() ?? this.books.length;
      book = new PairBook(exchange, pair, index, this.cols, this.table, this.maxWindowSec);
      byPair.set(pair, book);
      this.books[index] = book;
    }
    return book;
  }
}
