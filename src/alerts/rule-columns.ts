/**
 * The engine's rules stored as columns (one typed array per field, one index per rule) rather than one
 * object per rule: EngineRule objects with their condition and state objects measure ~230–260 bytes each
 * in bench/engine.ts before any index, the engine's whole budget. Absent optional numbers are NaN; the
 * user's decimal string is kept as typed so `get` returns the rule as it was given.
 */
import type { EngineRule, LevelOp, MoveDirection, RuleCondition, RuleRuntimeState, Side } from './types.js';

export const LEVEL = 0;
export const CROSSES = 1;
export const MOVE = 2;
export const WINDOW = 3;

export const OPS: readonly LevelOp[] = ['>', '>=', '<', '<='];
export const DIRECTIONS: readonly MoveDirection[] = ['up', 'down', 'any'];
export const UP = 0;
export const DOWN = 1;

/** side column: 0 = not known yet */
export const ABOVE = 1;
export const BELOW = 2;
const SIDES: readonly (Side | undefined)[] = [undefined, 'above', 'below'];
/** wentBack column: 0 = never set, so a state read back equals the state given */
export const WENT_FALSE = 1;
export const WENT_TRUE = 2;

export class RuleColumns {
  private capacity = 0;
  /** NaN marks a free slot */
  id = new Float64Array(0);
  book = new Int32Array(0);
  kind = new Uint8Array(0);
  /** level: index in OPS; move and window: index in DIRECTIONS */
  variant = new Uint8Array(0);
  armed = new Uint8Array(0);
  side = new Uint8Array(0);
  wentBack = new Uint8Array(0);
  /** the level's price, or the move's percent */
  value = new Float64Array(0);
  windowSec = new Float64Array(0);
  /** NaN for `once` */
  cooldownSec = new Float64Array(0);
  expiresAt = new Float64Array(0);
  ref = new Float64Array(0);
  lastFiredAt = new Float64Array(0);
  fireCount = new Uint32Array(0);
  text: string[] = [];
  private readonly free: number[] = [];
  private used = 0;

  /** Slots in use or freed so far: every live slot is below this. */
  get extent(): number {
    return this.used;
  }

  alloc(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    if (this.used === this.capacity) this.grow(Math.max(1024, Math.ceil(this.capacity * 1.5)));
    return this.used++;
  }

  release(slot: number): void {
    this.id[slot] = NaN;
    this.text[slot] = '';
    this.free.push(slot);
  }

  /** Writes a rule whose thresholds were already validated; `value` is the parsed price or percent. */
  write(slot: number, rule: EngineRule, book: number, value: number): void {
    const c = rule.condition;
    const s = rule.state;
    this.id[slot] = rule.id;
    this.book[slot] = book;
    this.kind[slot] = c.kind === 'level' ? LEVEL : c.kind === 'crosses' ? CROSSES : c.kind === 'move' ? MOVE : WINDOW;
    this.variant[slot] = c.kind === 'level' ? OPS.indexOf(c.op) : c.kind === 'crosses' ? 0 : DIRECTIONS.indexOf(c.direction);
    this.value[slot] = value;
    this.windowSec[slot] = c.kind === 'window_move' ? c.windowSec : NaN;
    this.text[slot] = c.kind === 'level' || c.kind === 'crosses' ? c.price : c.percent;
    this.cooldownSec[slot] = rule.repeat.kind === 'every' ? rule.repeat.cooldownSec : NaN;
    this.expiresAt[slot] = rule.expiresAt ?? NaN;
    this.armed[slot] = s.armed ? 1 : 0;
    this.side[slot] = s.side === undefined ? 0 : s.side === 'above' ? ABOVE : BELOW;
    this.wentBack[slot] = s.wentBack === undefined ? 0 : s.wentBack ? WENT_TRUE : WENT_FALSE;
    this.ref[slot] = s.referencePrice ?? NaN;
    this.lastFiredAt[slot] = s.lastFiredAt ?? NaN;
    this.fireCount[slot] = s.fireCount;
  }

  state(slot: number): RuleRuntimeState {
    const state: RuleRuntimeState = { armed: this.armed[slot] === 1, fireCount: this.fireCount[slot]! };
    const ref = this.ref[slot]!;
    const side = SIDES[this.side[slot]!];
    const went = this.wentBack[slot]!;
    const last = this.lastFiredAt[slot]!;
    if (!Number.isNaN(ref)) state.referencePrice = ref;
    if (side !== undefined) state.side = side;
    if (went !== 0) state.wentBack = went === WENT_TRUE;
    if (!Number.isNaN(last)) state.lastFiredAt = last;
    return state;
  }

  condition(slot: number): RuleCondition {
    const text = this.text[slot]!;
    const variant = this.variant[slot]!;
    switch (this.kind[slot]) {
      case LEVEL:
        return { kind: 'level', op: OPS[variant]!, price: text };
      case CROSSES:
        return { kind: 'crosses', price: text };
      case MOVE:
        return { kind: 'move', direction: DIRECTIONS[variant]!, percent: text };
      default:
        return { kind: 'window_move', direction: DIRECTIONS[variant]!, percent: text, windowSec: this.windowSec[slot]! };
    }
  }

  private grow(capacity: number): void {
    this.capacity = capacity;
    const widen = <T extends Float64Array | Int32Array | Uint8Array | Uint32Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    const f64 = (n: number) => new Float64Array(n);
    const u8 = (n: number) => new Uint8Array(n);
    this.id = widen(this.id, f64);
    this.book = widen(this.book, (n) => new Int32Array(n));
    this.kind = widen(this.kind, u8);
    this.variant = widen(this.variant, u8);
    this.armed = widen(this.armed, u8);
    this.side = widen(this.side, u8);
    this.wentBack = widen(this.wentBack, u8);
    this.value = widen(this.value, f64);
    this.windowSec = widen(this.windowSec, f64);
    this.cooldownSec = widen(this.cooldownSec, f64);
    this.expiresAt = widen(this.expiresAt, f64);
    this.ref = widen(this.ref, f64);
    this.lastFiredAt = widen(this.lastFiredAt, f64);
    this.fireCount = widen(this.fireCount, (n) => new Uint32Array(n));
    this.id.fill(NaN, this.used);
  }
}
