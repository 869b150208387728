/**
 * The alert semantics of src/alerts/engine.ts written as plainly as possible: every tick looks at every
 * rule. It is the engine's specification in the property tests and its baseline in the benchmark, so it
 * favours obviousness over speed everywhere; it shares no code with the engine.
 */
import type { EngineRule, Firing, RuleRuntimeState } from '../src/alerts/types.js';
import type { PriceTick } from '../src/market/types.js';

const MINUTE = 60_000;

interface PairHistory {
  /** newest tick time seen: a late tick counts as this time for windows */
  lastTs: number;
  /** minute number → lowest and highest price in that minute */
  minutes: Map<number, { low: number; high: number }>;
}

export class NaiveEngine {
  private readonly rules = new Map<number, EngineRule>();
  private readonly history = new Map<string, PairHistory>();

  constructor(private readonly maxWindowSec = 7 * 86_400) {}

  add(rule: EngineRule): void {
    this.rules.set(rule.id, { ...rule, state: { ...rule.state } });
  }

  remove(id: number): boolean {
    return this.rules.delete(id);
  }

  get(id: number): EngineRule | undefined {
    return this.rules.get(id);
  }

  size(): number {
    return this.rules.size;
  }

  sweepExpired(now: number): number[] {
    const gone = [...this.rules.values()].filter((r) => r.expiresAt !== undefined && r.expiresAt <= now).map((r) => r.id);
    for (const id of gone) this.rules.delete(id);
    return gone.sort((a, b) => a - b);
  }

  ids(): number[] {
    return [...this.rules.keys()];
  }

  evaluate(tick: PriceTick): Firing[] {
    const p = tick.last;
    const t = tick.exchangeTs;
    if (!(p > 0 && p < Infinity) || !Number.isFinite(t)) return [];
    const history = this.record(tick);
    const firings: Firing[] = [];
    for (const rule of this.rules.values()) {
      if (rule.exchange !== tick.exchange || rule.pair !== tick.pair) continue;
      if (rule.expiresAt !== undefined && rule.expiresAt <= t) continue;
      if (!this.step(rule, p, t, history)) continue;
      const s = rule.state;
      s.fireCount += 1;
      s.lastFiredAt = t;
      s.armed = false;
      const final = rule.repeat.kind === 'once';
      firings.push({ ruleId: rule.id, exchange: tick.exchange, pair: tick.pair, price: p, at: t, source: tick.source, state: { ...s }, final, condition: rule.condition });
      if (final) this.rules.delete(rule.id);
    }
    return firings.sort((a, b) => a.ruleId - b.ruleId);
  }

  /** Applies one tick to one rule's state; true when the rule fires (the caller does the firing's bookkeeping). */
  private step(rule: EngineRule, p: number, t: number, history: PairHistory): boolean {
    const s: RuleRuntimeState = rule.state;
    const repeat = rule.repeat;
    if (!s.armed && repeat.kind === 'once') return false;
    const cooldownOver = repeat.kind === 'every' && t >= (s.lastFiredAt ?? -Infinity) + repeat.cooldownSec * 1000;
    const c = rule.condition;
    switch (c.kind) {
      case 'level': {
        const level = Number(c.price);
        const hit = c.op === '>' ? p > level : c.op === '>=' ? p >= level : c.op === '<' ? p < level : p <= level;
        if (!s.armed && !hit) s.wentBack = true;
        if (!s.armed && s.wentBack === true && cooldownOver) s.armed = true;
        if (s.armed && hit) {
          s.wentBack = false;
          return true;
        }
        return false;
      }
      case 'crosses': {
        const level = Number(c.price);
        if (!s.armed && cooldownOver) s.armed = true;
        if (p === level) return false;
        const side = p > level ? 'above' : 'below';
        if (s.side === undefined) {
          s.side = side;
          return false;
        }
        if (side === s.side) return false;
        s.side = side;
        return s.armed;
      }
      case 'move': {
        const pct = Number(c.percent);
        if (!s.armed && cooldownOver) s.armed = true;
        const ref = s.referencePrice;
        if (ref === undefined) {
          s.referencePrice = p;
          return false;
        }
        const up = p >= ref * (1 + pct / 100);
        const down = p <= ref * (1 - pct / 100);
        const hit = c.direction === 'up' ? up : c.direction === 'down' ? down : up || down;
        if (s.armed && hit) {
          if (repeat.kind === 'every') s.referencePrice = p;
          return true;
        }
        return false;
      }
      case 'window_move': {
        const pct = Number(c.percent);
        if (!s.armed && cooldownOver) s.armed = true;
        if (!s.armed) return false;
        const windowMs = Math.min(c.windowSec, this.maxWindowSec) * 1000;
        let startMinute = Math.floor((history.lastTs - windowMs) / MINUTE);
        // after a firing, only the minutes after the firing's minute count
        if (s.lastFiredAt !== undefined) startMinute = Math.max(startMinute, Math.floor(s.lastFiredAt / MINUTE) + 1);
        let low = Infinity;
        let high = -Infinity;
        for (const [minute, bucket] of history.minutes) {
          if (minute < startMinute) continue;
          low = Math.min(low, bucket.low);
          high = Math.max(high, bucket.high);
        }
        if (low === Infinity) return false;
        const up = p >= low * (1 + pct / 100);
        const down = p <= high * (1 - pct / 100);
        return c.direction === 'up' ? up : c.direction === 'down' ? down : up || down;
      }
    }
  }

  private record(tick: PriceTick): PairHistory {
    const key = `${tick.exchange} ${tick.pair}`;
    let h = this.history.get(key);
    if (!h) this.history.set(key, (h = { lastTs: -Infinity, minutes: new Map() }));
    h.lastTs = Math.max(h.lastTs, tick.exchangeTs);
    const minute = Math.floor(h.lastTs / MINUTE);
    const bucket = h.minutes.get(minute);
    if (bucket) {
      bucket.low = Math.min(bucket.low, tick.last);
      bucket.high = Math.max(bucket.high, tick.last);
    } else h.minutes.set(minute, { low: tick.last, high: tick.last });
    return h;
  }
}
