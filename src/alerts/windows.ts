/**
 * Per-pair price history for rolling-window rules: the low and high of each minute of tick time, shared by
 * every window rule of the pair (a per-rule history would cost memory per rule and work per rule per tick).
 *
 * Every question the engine asks ends at the newest minute ("the low since minute s"), so each side keeps
 * only the minutes that are still the extreme of some suffix: a monotonic deque. A minute is dropped as soon
 * as a later minute is at least as extreme, so the deque stays short on real prices, recording is amortised
 * O(1), and a window's low is one binary search.
 */

export const MINUTE_MS = 60_000;

/** Lows of every suffix of minute buckets; highs are the same structure over negated prices. */
class SuffixMin {
  private minutes = new Float64Array(4);
  private values = new Float64Array(4);
  private head = 0;
  private tail = 0;

  record(minute: number, value: number): void {
    const last = this.tail - 1;
    if (last >= this.head && this.minutes[last] === minute && this.values[last]! <= value) return;
    while (this.tail > this.head && this.values[this.tail - 1]! >= value) this.tail--;
    if (this.tail === this.minutes.length) this.makeRoom();
    this.minutes[this.tail] = minute;
    this.values[this.tail++] = value;
  }

  /** Forgets minutes before `minute`: no window reaches back that far. */
  prune(minute: number): void {
    while (this.head < this.tail && this.minutes[this.head]! < minute) this.head++;
  }

  /** The lowest value recorded in minutes ≥ start; NaN when there are none. */
  from(start: number): number {
    let lo = this.head;
    let hi = this.tail;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.minutes[mid]! < start) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.tail ? this.values[lo]! : NaN;
  }

  private makeRoom(): void {
    const live = this.tail - this.head;
    const capacity = live * 2 > this.minutes.length ? this.minutes.length * 2 : this.minutes.length;
    const minutes = new Float64Array(capacity);
    const values = new Float64Array(capacity);
    minutes.set(this.minutes.subarray(this.head, this.tail));
    values.set(this.values.subarray(this.head, this.tail));
    this.minutes = minutes;
    this.values = values;
    this.head = 0;
    this.tail = live;
  }
}

export class MinuteWindows {
  private readonly lows = new SuffixMin();
  private readonly highs = new SuffixMin();
  private readonly keepMinutes: number;

  constructor(maxWindowSec: number) {
    // a window starts in the minute containing t − windowSec, one more than windowSec / 60 minutes back
    this.keepMinutes = Math.ceil(maxWindowSec / 60) + 1;
  }

  /** Records a price in a minute; minutes must not go backwards (the caller counts a late tick as the newest). */
  record(minute: number, price: number): void {
    this.lows.record(minute, price);
    this.highs.record(minute, -price);
    this.lows.prune(minute - this.keepMinutes);
    this.highs.prune(minute - this.keepMinutes);
  }

  /** Lowest price in minutes ≥ startMinute, NaN if none. */
  low(startMinute: number): number {
    return this.lows.from(startMinute);
  }

  /** Highest price in minutes ≥ startMinute, NaN if none. */
  high(startMinute: number): number {
    return -this.highs.from(startMinute);
  }
}
