import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AlertEngine } from '../../../src/alerts/engine.js';
import { SortedSlots } from '../../../src/alerts/sorted-slots.js';
import type { EngineRule, Firing, RepeatPolicy, RuleCondition, RuleRuntimeState } from '../../../src/alerts/types.js';
import type { PriceTick, TickSource } from '../../../src/market/types.js';
import { NaiveEngine } from '../../../bench/naive-engine.js';

/** a minute boundary, so tests can reason about window minutes */
const T0 = 1_700_000_040_000;
const MIN = 60_000;

function tick(last: number, at = T0, pair = 'BTC/USDT', source: TickSource = 'stream', exchange = 'binance'): PriceTick {
  return { exchange, pair, last, exchangeTs: at, receivedAt: at, source };
}

function rule(
  id: number,
  condition: RuleCondition,
  repeat: RepeatPolicy = { kind: 'once' },
  more: Partial<Omit<EngineRule, 'state'>> & { state?: Partial<RuleRuntimeState> } = {},
): EngineRule {
  const { state, ...rest } = more;
  return { id, exchange: 'binance', pair: 'BTC/USDT', condition, repeat, ...rest, state: { armed: true, fireCount: 0, ...state } };
}

const every = (cooldownSec: number): RepeatPolicy => ({ kind: 'every', cooldownSec });
const level = (op: '>' | '>=' | '<' | '<=', price: string): RuleCondition => ({ kind: 'level', op, price });
const crosses = (price: string): RuleCondition => ({ kind: 'crosses', price });

/** Feeds [price, seconds after T0] pairs and returns, per tick, the ids that fired. */
function run(engine: AlertEngine, ticks: readonly (readonly [number, number])[]): number[][] {
  return ticks.map(([price, sec]) => engine.evaluate(tick(price, T0 + sec * 1000)).map((f) => f.ruleId));
}

function engineWith(...rules: EngineRule[]): AlertEngine {
  const engine = new AlertEngine();
  for (const r of rules) engine.add(r);
  return engine;
}

describe('AlertEngine: level', () => {
  it('">" needs a price strictly above; ">=" fires at the level itself', () => {
    const engine = engineWith(rule(1, level('>', '100')), rule(2, level('>=', '100')));
    expect(run(engine, [[99, 0], [100, 1], [100.01, 2]])).toEqual([[], [2], [1]]);
  });

  it('"<" and "<=" mirror them', () => {
    const engine = engineWith(rule(1, level('<', '100')), rule(2, level('<=', '100')));
    expect(run(engine, [[101, 0], [100, 1], [99.99, 2]])).toEqual([[], [2], [1]]);
  });

  it('fires on the very first tick when the price is already there, once, and then forgets the rule', () => {
    const engine = engineWith(rule(1, level('>', '100')));
    const [firing] = engine.evaluate(tick(120));
    expect(firing).toEqual({
      ruleId: 1, exchange: 'binance', pair: 'BTC/USDT', price: 120, at: T0, source: 'stream', final: true, condition: { kind: 'level', op: '>', price: '100' },
      state: { armed: false, fireCount: 1, lastFiredAt: T0, wentBack: false },
    });
    expect(engine.get(1)).toBeUndefined();
    expect(engine.size()).toBe(0);
    expect(run(engine, [[99, 1], [130, 2]])).toEqual([[], []]);
  });

  it('"every" does not storm while the price hovers above: it waits for a way back and the cooldown', () => {
    const engine = engineWith(rule(1, level('>', '100'), every(60)));
    const fired = run(engine, [[101, 0], [102, 10], [101, 20], [99, 30], [101, 40], [101, 59], [101, 60], [102, 61]]);
    expect(fired).toEqual([[1], [], [], [], [], [], [1], []]);
  });

  it('"every" re-arms exactly at lastFiredAt + cooldown, not a millisecond before', () => {
    const engine = engineWith(rule(1, level('>=', '100'), every(30)));
    engine.evaluate(tick(100, T0));
    engine.evaluate(tick(90, T0 + 1000));
    expect(engine.evaluate(tick(100, T0 + 29_999))).toEqual([]);
    const [again] = engine.evaluate(tick(100, T0 + 30_000));
    expect(again?.state).toEqual({ armed: false, fireCount: 2, lastFiredAt: T0 + 30_000, wentBack: false });
    expect(again?.final).toBe(false);
  });

  it('"every" going back after the cooldown re-arms and fires on the next crossing', () => {
    const engine = engineWith(rule(1, level('<', '50'), every(10)));
    expect(run(engine, [[49, 0], [49, 100], [50, 200], [49.5, 201]])).toEqual([[1], [], [], [1]]);
  });

  it('a rule removed while disarmed is gone from every list', () => {
    const engine = engineWith(rule(1, level('>', '100'), every(60)), rule(2, level('>', '100'), every(60)));
    expect(run(engine, [[101, 0]])).toEqual([[1, 2]]);
    expect(engine.remove(1)).toBe(true);
    expect(engine.remove(1)).toBe(false);
    engine.evaluate(tick(99, T0 + 10_000));
    expect(engine.remove(2)).toBe(true);
    expect(run(engine, [[90, 70], [101, 80]])).toEqual([[], []]);
    expect(engine.size()).toBe(0);
  });
});

describe('AlertEngine: crosses', () => {
  it('learns the side from the first tick, fires when the price is strictly on the other side', () => {
    const engine = engineWith(rule(1, crosses('100')));
    expect(run(engine, [[95, 0], [100, 1], [99, 2], [100, 3], [100.5, 4]])).toEqual([[], [], [], [], [1]]);
  });

  it('a first price exactly at the level teaches nothing', () => {
    const engine = engineWith(rule(1, crosses('100')));
    expect(run(engine, [[100, 0]])).toEqual([[]]);
    expect(engine.get(1)?.state.side).toBeUndefined();
    expect(run(engine, [[101, 1], [99, 2]])).toEqual([[], [1]]);
  });

  it('"every": crossings during the cooldown flip the side silently', () => {
    const engine = engineWith(rule(1, crosses('100'), every(60)));
    // below → above fires; back below at 10 s and above at 20 s are silent; below after 60 s fires
    const fired = run(engine, [[99, 0], [101, 1], [99, 10], [101, 20], [101, 70], [99, 80]]);
    expect(fired).toEqual([[], [1], [], [], [], [1]]);
    expect(engine.get(1)?.state).toMatchObject({ side: 'below', fireCount: 2, armed: false });
  });

  it('starts from a side loaded with the rule (a restart)', () => {
    const engine = engineWith(rule(1, crosses('100'), { kind: 'once' }, { state: { side: 'above' } }));
    expect(run(engine, [[99, 0]])).toEqual([[1]]);
  });
});

describe('AlertEngine: move', () => {
  const move = (direction: 'up' | 'down' | 'any', percent: string): RuleCondition => ({ kind: 'move', direction, percent });

  it('takes the first price as reference and fires at exactly P% away', () => {
    const engine = engineWith(rule(1, move('up', '5')), rule(2, move('down', '5')), rule(3, move('any', '10')));
    expect(run(engine, [[100, 0], [104.99, 1], [105, 2], [95, 3], [91, 4], [89.99, 5]])).toEqual([[], [], [1], [2], [], [3]]);
    expect(engine.size()).toBe(0);
  });

  it('"every" measures again from the firing price, after the cooldown', () => {
    const engine = engineWith(rule(1, move('up', '5'), every(60)));
    const fired = run(engine, [[100, 0], [105, 1], [120, 30], [120, 61], [125, 122], [126.1, 123]]);
    expect(fired).toEqual([[], [1], [], [1], [], [1]]);
    expect(engine.get(1)?.state).toMatchObject({ referencePrice: 126.1, fireCount: 3 });
  });

  it('starts from a reference loaded with the rule', () => {
    const engine = engineWith(rule(1, move('down', '2'), every(0), { state: { referencePrice: 50 } }));
    expect(run(engine, [[49, 0]])).toEqual([[1]]);
  });
});

describe('AlertEngine: window_move', () => {
  const win = (direction: 'up' | 'down' | 'any', percent: string, windowSec: number): RuleCondition => ({
    kind: 'window_move', direction, percent, windowSec,
  });

  it('fires on a rise of P% from the low of the window, and forgets lows older than the window', () => {
    const engine = engineWith(rule(1, win('up', '10', 300)));
    // the low of 100 is in minute 0; at minute 6 the window starts in minute 1, where the low is 105
    expect(run(engine, [[100, 0], [105, 60], [109, 120], [110, 360], [115, 361], [116, 362]])).toEqual([
      [], [], [], [], [], [1],
    ]);
  });

  it('falls from the high; window rules of one pair share the price history', () => {
    const engine = engineWith(rule(1, win('down', '5', 3600)), rule(2, win('any', '10', 3600)));
    expect(run(engine, [[200, 0], [190, 600], [180, 1200]])).toEqual([[], [1], [2]]);
  });

  it('"every" looks only at minutes after its firing', () => {
    const engine = engineWith(rule(1, win('up', '10', 3600), every(0)));
    // fired in minute 1; the 100 low is before it, so 111 in minute 1 and 2 does not fire again
    expect(run(engine, [[100, 0], [111, 60], [112, 61], [111, 120], [122.5, 121], [123, 130]])).toEqual([
      [], [1], [], [], [1], [],
    ]);
  });

  it('a rule added next to a less sensitive one is measured from the existing low and high', () => {
    const engine = engineWith(rule(1, win('up', '10', 600)), rule(2, win('down', '10', 600)));
    expect(run(engine, [[100, 0], [105, 60]])).toEqual([[], []]);
    engine.add(rule(3, win('up', '2', 600)));
    engine.add(rule(4, win('down', '2', 600)));
    expect(run(engine, [[105, 61], [102, 62]])).toEqual([[3], [4]]);
  });

  it('sees prices from before the rule was added', () => {
    const engine = new AlertEngine();
    engine.evaluate(tick(100, T0));
    engine.add(rule(1, win('up', '5', 600)));
    expect(run(engine, [[105, 60]])).toEqual([[1]]);
  });
});

describe('AlertEngine: bookkeeping', () => {
  it('returns firings in ascending id order whatever the order of adding', () => {
    const engine = engineWith(rule(9, level('>', '1')), rule(3, crosses('5'), every(0), { state: { side: 'below' } }), rule(5, level('>=', '2')));
    expect(run(engine, [[10, 0]])).toEqual([[3, 5, 9]]);
  });

  it('a rule whose expiresAt ≤ tick time never fires; sweepExpired drops and reports expired rules', () => {
    const engine = engineWith(
      rule(1, level('>', '100'), { kind: 'once' }, { expiresAt: T0 }),
      rule(2, level('>', '100'), { kind: 'once' }, { expiresAt: T0 + 1 }),
      rule(3, level('<', '1'), { kind: 'once' }, { expiresAt: T0 + 5000 }),
      rule(4, level('<', '1'), { kind: 'once' }, { expiresAt: T0 + 9000 }),
    );
    expect(run(engine, [[101, 0]])).toEqual([[2]]);
    expect(engine.sweepExpired(T0 + 5000)).toEqual([3]);
    expect(engine.get(4)).toBeDefined();
    expect(run(engine, [[0.5, 9]])).toEqual([[]]);
    expect(engine.size()).toBe(0);
  });

  it('treats gapfill, poll and rest ticks like stream ticks, and says which one fired', () => {
    const engine = engineWith(rule(1, level('>', '100')), rule(2, level('>', '200')));
    expect(engine.evaluate(tick(150, T0, 'BTC/USDT', 'gapfill'))[0]?.source).toBe('gapfill');
    expect(engine.evaluate(tick(250, T0 + 1, 'BTC/USDT', 'poll'))[0]?.source).toBe('poll');
  });

  it('keeps pairs and exchanges apart, and lists the pairs that have rules', () => {
    const engine = engineWith(rule(1, level('>', '100')), rule(2, level('>', '100'), { kind: 'once' }, { pair: 'ETH/USDT' }));
    engine.add(rule(3, level('>', '100'), { kind: 'once' }, { exchange: 'kraken' }));
    expect([...engine.pairs()]).toEqual([
      { exchange: 'binance', pair: 'BTC/USDT' }, { exchange: 'binance', pair: 'ETH/USDT' }, { exchange: 'kraken', pair: 'BTC/USDT' },
    ]);
    expect(engine.evaluate(tick(150, T0, 'ETH/USDT')).map((f) => f.ruleId)).toEqual([2]);
    expect(engine.evaluate(tick(150, T0, 'BTC/USDT', 'stream', 'kraken')).map((f) => f.ruleId)).toEqual([3]);
    expect([...engine.pairs()]).toEqual([{ exchange: 'binance', pair: 'BTC/USDT' }]);
  });

  it('hands over state changes made without a firing once, and not the firings', () => {
    const engine = engineWith(rule(1, crosses('100')), rule(2, level('>', '50')), rule(3, { kind: 'move', direction: 'up', percent: '1' }));
    engine.evaluate(tick(99));
    expect(engine.takeDirtyStates()).toEqual(
      new Map([[1, { armed: true, fireCount: 0, side: 'below' }], [3, { armed: true, fireCount: 0, referencePrice: 99 }]]),
    );
    expect(engine.takeDirtyStates().size).toBe(0);
  });

  it('a firing supersedes an earlier unsaved state change', () => {
    const engine = engineWith(rule(1, crosses('100'), every(0)));
    engine.evaluate(tick(99));
    engine.evaluate(tick(101, T0 + 1));
    expect(engine.takeDirtyStates().size).toBe(0);
  });

  it('counts a late tick (a poll behind the stream) in the newest minute of the window', () => {
    const engine = engineWith(rule(1, { kind: 'window_move', direction: 'up', percent: '10', windowSec: 120 }));
    engine.evaluate(tick(110, T0 + 300_000));
    engine.evaluate(tick(100, T0, 'BTC/USDT', 'poll'));
    expect(run(engine, [[110.1, 301]])).toEqual([[1]]);
  });

  it('ignores a tick whose price is not a positive number', () => {
    const engine = engineWith(rule(1, crosses('100')), rule(2, level('<', '100')));
    expect(run(engine, [[0, 0], [-5, 1], [NaN, 2], [Infinity, 3]])).toEqual([[], [], [], []]);
    expect(engine.get(1)?.state.side).toBeUndefined();
  });

  it('returns rules as given and rejects thresholds that are not numbers', () => {
    const r = rule(7, { kind: 'window_move', direction: 'down', percent: '2.50', windowSec: 900 }, every(300), { expiresAt: T0 + 1 });
    const engine = engineWith(r);
    expect(engine.get(7)).toEqual(r);
    expect(() => engine.add(rule(8, level('>', 'abc')))).toThrow(RangeError);
    expect(() => engine.add(rule(8, level('>', '')))).toThrow(RangeError);
    expect(engine.size()).toBe(1);
  });

  it('replaces a rule added again under the same id', () => {
    const engine = engineWith(rule(1, level('>', '100')));
    engine.add(rule(1, level('<', '100')));
    expect(engine.size()).toBe(1);
    expect(run(engine, [[150, 0], [50, 1]])).toEqual([[], [1]]);
  });
});

describe('SortedSlots', () => {
  it('pops exactly the entries at or below a key, through inserts, deletes and compaction', () => {
    const entry = fc.record({ key: fc.integer({ min: 0, max: 40 }), slot: fc.nat(30) });
    const opArb = fc.oneof(
      fc.record({ push: entry }),
      fc.record({ del: fc.nat() }),
      fc.record({ pop: fc.integer({ min: -1, max: 41 }) }),
    );
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 300, size: 'max' }), (ops) => {
        const list = new SortedSlots();
        let model: { key: number; slot: number }[] = [];
        for (const op of ops) {
          if ('push' in op) {
            list.push(op.push.key, op.push.slot);
            model.push(op.push);
          } else if ('del' in op) {
            const victim = model[op.del % Math.max(1, model.length)];
            if (!victim) continue;
            expect(list.delete(victim.key, victim.slot)).toBe(true);
            model.splice(model.indexOf(victim), 1);
          } else {
            const popped: { key: number; slot: number }[] = [];
            while (op.pop >= list.minKey()) {
              const key = list.minKey();
              popped.push({ key, slot: list.popMin() });
            }
            const expected = model.filter((e) => e.key <= op.pop);
            model = model.filter((e) => e.key > op.pop);
            const order = (a: { key: number; slot: number }, b: { key: number; slot: number }) => a.key - b.key || a.slot - b.slot;
            expect(popped.map((e) => e.key)).toEqual([...popped.map((e) => e.key)].sort((a, b) => a - b));
            expect(popped.sort(order)).toEqual(expected.sort(order));
          }
          expect(list.size).toBe(model.length);
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- the engine against the naive scan ----

const PAIRS = [['binance', 'A/USDT'], ['binance', 'B/USDT'], ['kraken', 'A/USDT']] as const;
/** levels on a 0.5 grid and prices mostly on a 0.25 grid around them: ticks land on levels, just past them, and far away */
const gridLevel = fc.integer({ min: 196, max: 204 }).map((n) => n / 2);
const gridPrice = fc.oneof(
  { weight: 9, arbitrary: fc.integer({ min: 388, max: 412 }).map((n) => n / 4) },
  { weight: 1, arbitrary: fc.integer({ min: 360, max: 440 }).map((n) => n / 4) },
);
const percent = fc.constantFrom('0.5', '1', '2', '3', '5');
const direction = fc.constantFrom('up' as const, 'down' as const, 'any' as const);

const conditionArb: fc.Arbitrary<RuleCondition> = fc.oneof(
  fc.record({ kind: fc.constant('level' as const), op: fc.constantFrom('>' as const, '>=' as const, '<' as const, '<=' as const), price: gridLevel.map(String) }),
  fc.record({ kind: fc.constant('crosses' as const), price: gridLevel.map(String) }),
  fc.record({ kind: fc.constant('move' as const), direction, percent }),
  fc.record({ kind: fc.constant('window_move' as const), direction, percent, windowSec: fc.constantFrom(60, 120, 300, 600) }),
);
const repeatArb: fc.Arbitrary<RepeatPolicy> = fc.oneof(
  fc.constant({ kind: 'once' as const }),
  fc.constantFrom(0, 30, 60, 120, 300).map((cooldownSec) => ({ kind: 'every' as const, cooldownSec })),
);
/** mostly fresh rules; sometimes the state a restart would load */
const stateArb: fc.Arbitrary<RuleRuntimeState> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ armed: true, fireCount: 0 }) },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        armed: fc.boolean(),
        fireCount: fc.nat(3),
        referencePrice: gridLevel,
        side: fc.constantFrom('above' as const, 'below' as const),
        wentBack: fc.boolean(),
        lastFiredAt: fc.integer({ min: -300, max: 60 }).map((s) => T0 + s * 1000),
      },
      { requiredKeys: ['armed', 'fireCount'] },
    ),
  },
);
const ruleArb = fc.record({
  pair: fc.nat(PAIRS.length - 1),
  condition: conditionArb,
  repeat: repeatArb,
  state: stateArb,
  expiresInSec: fc.option(fc.integer({ min: 0, max: 1200 }), { freq: 4 }),
});
type RuleDraft = typeof ruleArb extends fc.Arbitrary<infer T> ? T : never;
type Op =
  | { op: 'tick'; pair: number; price: number; dt: number; source: TickSource }
  | { op: 'add'; reuse: number | null; rule: RuleDraft }
  | { op: 'remove'; pick: number }
  | { op: 'sweep' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      op: fc.constant('tick' as const),
      pair: fc.nat(PAIRS.length - 1),
      price: gridPrice,
      dt: fc.constantFrom(0, 1000, 10_000, 30_000, 59_999, 60_000, 90_000, 300_000),
      source: fc.constantFrom<TickSource>('stream', 'stream', 'poll', 'gapfill', 'rest'),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('add' as const), reuse: fc.option(fc.nat(), { freq: 8 }), rule: ruleArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'sweep' as const }) },
);

describe('AlertEngine against the naive scan', () => {
  it('fires the same rules with the same states at every tick', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 40, size: 'max' }), fc.array(opArb, { minLength: 1, maxLength: 80, size: 'max' }), (initial, ops) => {
        const engine = new AlertEngine();
        const naive = new NaiveEngine();
        const ids: number[] = [];
        let now = T0;
        const toRule = (id: number, r: RuleDraft): EngineRule => {
          const [exchange, pair] = PAIRS[r.pair]!;
          const out: EngineRule = { id, exchange, pair, condition: r.condition, repeat: r.repeat, state: { ...r.state } };
          if (r.expiresInSec !== null) out.expiresAt = now + r.expiresInSec * 1000;
          return out;
        };
        const add = (r: EngineRule) => {
          engine.add(r);
          naive.add(r);
          ids.push(r.id);
        };
        initial.forEach((r, i) => add(toRule(i + 1, r)));
        for (const op of ops) {
          if (op.op === 'add') add(toRule(op.reuse !== null && ids.length > 0 ? ids[op.reuse % ids.length]! : ids.length + 1000, op.rule));
          else if (op.op === 'remove' && ids.length > 0) {
            const id = ids[op.pick % ids.length]!;
            const had = naive.get(id) !== undefined && !isExpired(naive.get(id)!, now);
            expect(engine.remove(id) || !had).toBe(true);
            naive.remove(id);
          } else if (op.op === 'sweep') {
            const dropped = engine.sweepExpired(now);
            const all = naive.sweepExpired(now);
            expect(dropped.every((id) => all.includes(id))).toBe(true);
          } else if (op.op === 'tick') {
            now += op.dt;
            const [exchange, pair] = PAIRS[op.pair]!;
            const t: PriceTick = { exchange, pair, last: op.price, exchangeTs: now, receivedAt: now, source: op.source };
            const before = new Map(naive.ids().map((id) => [id, { ...naive.get(id)!.state }]));
            const fired: Firing[] = engine.evaluate(t);
            expect(fired).toEqual(naive.evaluate(t));
            const dirty = engine.takeDirtyStates();
            const firedIds = new Set(fired.map((f) => f.ruleId));
            const changed = [...before].filter(([id, s]) => !firedIds.has(id) && !sameState(s, naive.get(id)?.state));
            expect([...dirty.keys()].sort((a, b) => a - b)).toEqual(changed.map(([id]) => id).sort((a, b) => a - b));
            for (const [id, s] of dirty) expect(s).toEqual(naive.get(id)?.state);
          }
          for (const id of naive.ids()) {
            const r = naive.get(id)!;
            if (!isExpired(r, now)) expect(engine.get(id)).toEqual(r);
          }
          expect(engine.size()).toBeLessThanOrEqual(naive.size());
        }
      }),
      { numRuns: 600 },
    );
  });
});

function isExpired(r: EngineRule, now: number): boolean {
  return r.expiresAt !== undefined && r.expiresAt <= now;
}

function sameState(a: RuleRuntimeState, b: RuleRuntimeState | undefined): boolean {
  if (!b) return true;
  return a.armed === b.armed && a.fireCount === b.fireCount && a.referencePrice === b.referencePrice && a.side === b.side
    && a.wentBack === b.wentBack && a.lastFiredAt === b.lastFiredAt;
}
