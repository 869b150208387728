/**
 * One send limit and its state, pure: a window ("at most n in any span") or a token bucket ("n at once,
 * then one per interval"). limits.ts combines them per platform and per chat.
 */

export type Priority = 'alert' | 'reply';

/**
 * At most `limit` sends in any window of `windowMs` — for limits a platform states as a hard count per
 * window (Telegram's 30/s overall, 20/min per group), where a token bucket refilling at the same rate
 * would let twice the count through a window that straddles a full bucket.
 */
export interface WindowLimit {
  type: 'window';
  limit: number;
  windowMs: number;
  /** of `limit`, how many only replies may use */
  replyHeadroom: number;
}

/**
 * A token bucket: `burst` at once, then one per `intervalMs` (which need not be whole) — for "about 1/s,
 * short bursts allowed", and to space sends out.
 */
export interface BucketLimit {
  type: 'bucket';
  burst: number;
  intervalMs: number;
  /** of `burst`, how many only replies may use */
  replyHeadroom: number;
  /**
   * How late a send may come after its turn without the bucket's pace slipping (default 0). A caller
   * whose timer fires a few ms late then takes the next token that much early, so timer lateness does not
   * add up to a lower rate. It loosens the bucket's bound by as much: n sends in a row span at least
   * (n - burst)·intervalMs - lateMs.
   */
  lateMs?: number;
}

export type Limit = WindowLimit | BucketLimit;

/**
 * A limit with its state: a window keeps its last `limit` grant times (ascending), a bucket its theoretical
 * arrival time as `since + ahead`: the whole ms its busy spell began and how far the turns have got since.
 * Split so a fractional interval (such as 1030/30 ms) adds up exactly: at epoch-ms magnitudes a double keeps only
 * ~0.0002 ms, and the error would drift.
 */
export type Slot = { limit: WindowLimit; times: number[] } | { limit: BucketLimit; since: number; ahead: number };

export function newSlot(limit: Limit): Slot {
  return limit.type === 'window' ? { limit, times: [] } : { limit, since: Number.NEGATIVE_INFINITY, ahead: 0 };
}

/** How long before the slot has a token for `priority`; 0 when it has one now. */
export function slotWait(slot: Slot, now: number, priority: Priority): number {
  const headroom = priority === 'reply' ? 0 : slot.limit.replyHeadroom;
  if ('times' in slot) {
    // The grant `allowed` places back must have left the window for a new one to fit in it.
    const allowed = Math.max(1, slot.limit.limit - headroom);
    const times = slot.times;
    if (times.length < allowed) return 0;
    return Math.max(0, times[times.length - allowed]! + slot.limit.windowMs - now);
  }
  // GCRA form of the token bucket. Rounded up to a whole ms, as the callers' clocks count: a wait that
  // is a fraction short would only be refused again.
  const tolerance = Math.max(0, slot.limit.burst - 1 - headroom) * slot.limit.intervalMs + (slot.limit.lateMs ?? 0);
  return Math.max(0, Math.ceil(slot.since - now + slot.ahead - tolerance));
}

/** Records a grant at `now`. */
export function takeSlot(slot: Slot, now: number): void {
  if ('times' in slot) {
    // A clock that stepped back must not break the ascending order the waits rely on; recording the
    // grant later than it happened only makes the next waits longer, never shorter.
    slot.times.push(Math.max(now, slot.times[slot.times.length - 1] ?? now));
    if (slot.times.length > slot.limit.limit) slot.times.shift();
  } else if (slot.since + slot.ahead <= now) {
    slot.since = now;
    slot.ahead = slot.limit.intervalMs;
  } else {
    // a fractional interval is not exact in binary either: kept to the nanosecond, a turn that falls on a whole ms
    // stays on it instead of costing a ms more through a rounding error
    slot.ahead = Math.round((slot.ahead + slot.limit.intervalMs) * 1e6) / 1e6;
  }
}

/** The slot is back to full: it behaves exactly like a new one. */
export function slotIdle(slot: Slot, now: number): boolean {
  if ('times' in slot) {
    const last = slot.times[slot.times.length - 1];
    return last === undefined || last + slot.limit.windowMs <= now;
  }
  return slot.since + slot.ahead <= now;
}
