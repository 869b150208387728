/**
 * The rules of one (exchange, pair), indexed by the next price or time at which each one's state could
 * change. A tick pops what it reaches and nothing else, so a tick that changes nothing costs a handful of
 * comparisons however many rules the pair has.
 *
 * The index only has to be a superset: the engine re-checks every rule it is handed, so a rule popped a
 * little early is harmless, one popped late is a missed alert. Which lists a rule sits in follows from its
 * state alone (`touch`), so taking a rule out needs no bookkeeping of where it went in.
 */
import { MINUTE_MS, MinuteWindows } from './windows.js';
import { ABOVE, BELOW, CROSSES, DOWN, LEVEL, MOVE, type RuleColumns, UP, WENT_TRUE, WINDOW } from './rule-columns.js';
import { SortedSlots } from './sorted-slots.js';

interface WindowGroup {
  readonly windowSec: number;
  readonly down: boolean;
  /** rules whose window starts at t − W, by percent */
  readonly base: SortedSlots;
  /** rules fired recently, keyed by the first minute they may look at; joined to `base` once the window passes it */
  readonly recent: Map<number, SortedSlots>;
}

// list numbers by OPS index ('>', '>=', '<', '<='): where an armed level waits, and where it waits to go back
const FIRE_LIST = [1, 0, 3, 2] as const;
const BACK_LIST = [2, 3, 0, 1] as const;

/** The first minute a rule fired at `lastFiredAt` may look at; −∞ if it never fired. */
export function sinceMinute(lastFiredAt: number): number {
  return Number.isNaN(lastFiredAt) ? -Infinity : Math.floor(lastFiredAt / MINUTE_MS) + 1;
}

/** The first minute of a window of `windowSec` at window time `tw`. */
export function windowStart(tw: number, windowSec: number): number {
  return Math.floor((tw - windowSec * 1000) / MINUTE_MS);
}

// fields of a book's row in the BookTable
const COOLDOWN = 0;
const LIST = 1;
const WIN_UP = 5;
const WIN_DOWN = 6;
const LAST_TS = 7;
const MINUTE = 8;
const LOW = 9;
const HIGH = 10;
const STRIDE = 16;

/**
 * The numbers every tick reads, one row of 16 doubles (two cache lines) per book in one array: at 2,000
 * pairs the lists and windows of all books do not stay in cache, and a tick that changes nothing should
 * cost one row rather than a dozen objects. Bounds are conservative: a list's bound may be below its true
 * smallest key (after deletes, say), never above it.
 */
export class BookTable {
  data = new Float64Array(STRIDE * 64);

  /** Makes room for a book and resets its row. */
  claim(index: number): number {
    const at = index * STRIDE;
    if (at + STRIDE > this.data.length) {
      const data = new Float64Array(Math.max(this.data.length * 2, at + STRIDE));
      data.set(this.data);
      this.data = data;
    }
    this.data.fill(Infinity, at, at + STRIDE);
    this.data[at + WIN_DOWN] = -Infinity;
    this.data[at + LAST_TS] = -Infinity;
    this.data[at + MINUTE] = NaN;
    return at;
  }
}

export class PairBook {
  rules = 0;
  private readonly windows: MinuteWindows;
  /** this book's row in table.data */
  private readonly at: number;
  /** the smallest percent of any up (down) window rule ever added here: how far a new low can move the bounds */
  private minUpPercent = Infinity;
  private minDownPercent = Infinity;
  /** by list number: 0 fires at p ≥ key, 1 at p > key, 2 at p ≤ key, 3 at p < key (2 and 3 hold −key) */
  private readonly lists = [new SortedSlots(), new SortedSlots(), new SortedSlots(), new SortedSlots()] as const;
  /** disarmed `every` rules by cooldown end */
  private readonly cooldowns = new SortedSlots();
  /** crosses without a side and moves without a reference: any next price changes them */
  private pending: number[] = [];
  private readonly groups: WindowGroup[] = [];

  constructor(
    readonly exchange: string,
    readonly pair: string,
    readonly index: number,
    private readonly cols: RuleColumns,
    private readonly table: BookTable,
    private readonly maxWindowSec: number,
  ) {
    this.windows = new MinuteWindows(maxWindowSec);
    this.at = table.claim(index);
  }

  /** Lowest price in minutes ≥ startMinute, NaN if none. */
  low(startMinute: number): number {
    return this.windows.low(startMinute);
  }

  /** Highest price in minutes ≥ startMinute, NaN if none. */
  high(startMinute: number): number {
    return this.windows.high(startMinute);
  }

  /** newest tick time seen, −∞ before the first */
  get lastTs(): number {
    return this.table.data[this.at + LAST_TS]!;
  }

  /**
   * Records a price in the window history and returns the window time: the tick time, or the newest time
   * seen when the tick is older (a late poll after a stream tick), so minutes only move forward.
   */
  record(t: number, p: number): number {
    const d = this.table.data;
    const o = this.at;
    const tw = Math.max(t, d[o + LAST_TS]!);
    d[o + LAST_TS] = tw;
    const minute = Math.floor(tw / MINUTE_MS);
    if (minute === d[o + MINUTE]) {
      // inside this minute's range nothing in the history changes
      if (p >= d[o + LOW]! && p <= d[o + HIGH]!) return tw;
      if (p < d[o + LOW]!) d[o + LOW] = p;
      else d[o + HIGH] = p;
    } else {
      d[o + MINUTE] = minute;
      d[o + LOW] = d[o + HIGH] = p;
    }
    this.windows.record(minute, p);
    // a new low may lower some window's low, and so the price at which its rules fire
    d[o + WIN_UP] = Math.min(d[o + WIN_UP]!, p * (1 + this.minUpPercent / 100));
    d[o + WIN_DOWN] = Math.max(d[o + WIN_DOWN]!, p * (1 - this.minDownPercent / 100));
    return tw;
  }

  /** Takes out and appends to `picked` (unsorted, maybe twice) the slots whose state may change at price p, time t. */
  pick(p: number, t: number, tw: number, picked: number[]): void {
    const d = this.table.data;
    const o = this.at;
    if (t >= d[o + COOLDOWN]!) d[o + COOLDOWN] = popReached(this.cooldowns, t, false, picked);
    if (p >= d[o + LIST]!) d[o + LIST] = popReached(this.lists[0], p, false, picked);
    if (p > d[o + LIST + 1]!) d[o + LIST + 1] = popReached(this.lists[1], p, true, picked);
    if (-p >= d[o + LIST + 2]!) d[o + LIST + 2] = popReached(this.lists[2], -p, false, picked);
    if (-p > d[o + LIST + 3]!) d[o + LIST + 3] = popReached(this.lists[3], -p, true, picked);
    if (this.pending.length > 0) {
      for (const slot of this.pending) picked.push(slot);
      this.pending = [];
    }
    if (p >= d[o + WIN_UP]! || p <= d[o + WIN_DOWN]!) this.pickWindows(p, tw, picked);
  }

  private pickWindows(p: number, tw: number, picked: number[]): void {
    let up = Infinity;
    let down = -Infinity;
    for (const group of this.groups) {
      const start = windowStart(tw, Math.min(group.windowSec, this.maxWindowSec));
      if (group.recent.size > 0) {
        for (const [since, list] of group.recent) {
          if (since <= start) {
            list.moveAllTo(group.base);
            group.recent.delete(since);
          } else if (group.down) down = Math.max(down, this.pickWindow(true, list, since, p, picked));
          else up = Math.min(up, this.pickWindow(false, list, since, p, picked));
        }
      }
      if (group.down) down = Math.max(down, this.pickWindow(true, group.base, start, p, picked));
      else up = Math.min(up, this.pickWindow(false, group.base, start, p, picked));
    }
    // exact now; later a window's start only moves forward (its low can only rise) until record() sees a new low
    this.table.data[this.at + WIN_UP] = up;
    this.table.data[this.at + WIN_DOWN] = down;
  }

  /** Puts a rule into (add) or takes it out of (!add) the lists its current state waits on. */
  touch(slot: number, add: boolean): void {
    const c = this.cols;
    const every = !Number.isNaN(c.cooldownSec[slot]!);
    const armed = c.armed[slot] === 1;
    if (!armed && !every) return;
    const kind = c.kind[slot]!;
    const v = c.value[slot]!;
    const ref = c.ref[slot]!;
    if ((kind === CROSSES && c.side[slot] === 0) || (kind === MOVE && Number.isNaN(ref))) {
      if (add) this.pending.push(slot);
      else {
        const at = this.pending.indexOf(slot);
        if (at >= 0) this.pending.splice(at, 1);
      }
    }
    if (every && !armed && (kind !== LEVEL || c.wentBack[slot] === WENT_TRUE)) {
      const last = c.lastFiredAt[slot]!;
      const end = Number.isNaN(last) ? -Infinity : last + c.cooldownSec[slot]! * 1000;
      if (add) {
        this.cooldowns.push(end, slot);
        this.table.data[this.at + COOLDOWN] = Math.min(this.table.data[this.at + COOLDOWN]!, end);
      } else this.cooldowns.delete(end, slot);
    }
    const variant = c.variant[slot]!;
    if (kind === LEVEL) {
      if (armed) this.put(FIRE_LIST[variant as 0 | 1 | 2 | 3], v, slot, add);
      else if (c.wentBack[slot] !== WENT_TRUE) this.put(BACK_LIST[variant as 0 | 1 | 2 | 3], v, slot, add);
    } else if (kind === CROSSES) {
      if (c.side[slot] === BELOW) this.put(1, v, slot, add);
      else if (c.side[slot] === ABOVE) this.put(3, v, slot, add);
    } else if (kind === MOVE) {
      if (!armed || Number.isNaN(ref)) return;
      // the same expressions as the engine's check, so the popped rules are exactly those that fire
      if (variant !== DOWN) this.put(0, ref * (1 + v / 100), slot, add);
      if (variant !== UP) this.put(2, ref * (1 - v / 100), slot, add);
    } else if (kind === WINDOW && armed) {
      const since = sinceMinute(c.lastFiredAt[slot]!);
      if (variant !== DOWN) this.touchWindow(slot, false, since, add);
      if (variant !== UP) this.touchWindow(slot, true, since, add);
    }
  }

  private put(list: 0 | 1 | 2 | 3, key: number, slot: number, add: boolean): void {
    const signed = list < 2 ? key : -key;
    if (!add) {
      this.lists[list].delete(signed, slot);
      return;
    }
    this.lists[list].push(signed, slot);
    const d = this.table.data;
    d[this.at + LIST + list] = Math.min(d[this.at + LIST + list]!, signed);
  }

  private touchWindow(slot: number, down: boolean, since: number, add: boolean): void {
    const windowSec = this.cols.windowSec[slot]!;
    const percent = this.cols.value[slot]!;
    let group = this.groups.find((g) => g.windowSec === windowSec && g.down === down);
    if (!add) {
      // a recent list may have joined the base since the rule went in
      if (group && !group.recent.get(since)?.delete(percent, slot)) group.base.delete(percent, slot);
      return;
    }
    if (!group) {
      group = { windowSec, down, base: new SortedSlots(), recent: new Map() };
      this.groups.push(group);
    }
    if (down) this.minDownPercent = Math.min(this.minDownPercent, percent);
    else this.minUpPercent = Math.min(this.minUpPercent, percent);
    // the next tick recomputes the window bounds exactly
    this.table.data[this.at + WIN_UP] = -Infinity;
    this.table.data[this.at + WIN_DOWN] = Infinity;
    let list = since === -Infinity ? group.base : group.recent.get(since);
    if (!list) {
      list = new SortedSlots();
      group.recent.set(since, list);
    }
    list.push(percent, slot);
  }

  /** Pops the reached rules of one window list and returns the price at which the next one would fire (±∞: none). */
  private pickWindow(down: boolean, list: SortedSlots, from: number, p: number, picked: number[]): number {
    // the threshold rises (up) or falls (down) with the percent, so the rules reached are the smallest percents
    if (down) {
      const high = this.windows.high(from);
      while (p <= high * (1 - list.minKey() / 100)) picked.push(list.popMin());
      const next = high * (1 - list.minKey() / 100);
      return Number.isNaN(next) ? -Infinity : next;
    }
    const low = this.windows.low(from);
    while (p >= low * (1 + list.minKey() / 100)) picked.push(list.popMin());
    const next = low * (1 + list.minKey() / 100);
    return Number.isNaN(next) ? Infinity : next;
  }
}

/** Pops every entry reached by x and returns the new smallest key (∞ when empty), the list's exact bound. */
function popReached(list: SortedSlots, x: number, strict: boolean, picked: number[]): number {
  // minKey() is NaN when empty, which makes both comparisons false
  if (strict) while (x > list.minKey()) picked.push(list.popMin());
  else while (x >= list.minKey()) picked.push(list.popMin());
  const next = list.minKey();
  return Number.isNaN(next) ? Infinity : next;
}
