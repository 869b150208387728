/**
 * The vocabulary shared by the rule grammar (text → RuleSpec), the store (RuleSpec ⇄ database rows) and
 * the engine (rules × ticks → firings). Prices and percents the user typed stay decimal strings here, so
 * nothing is float-rounded in what users see; the engine converts each to a number exactly once.
 */

export type LevelOp = '>' | '>=' | '<' | '<=';
export type MoveDirection = 'up' | 'down' | 'any';

export type RuleCondition =
  /** price op level, e.g. "> 200" / "above 200" */
  | { kind: 'level'; op: LevelOp; price: string }
  /** the price moves from one side of the level to the other after creation (either direction) */
  | { kind: 'crosses'; price: string }
  /** a move of `percent` from the reference price (the price at creation; reset on each repeat firing) */
  | { kind: 'move'; direction: MoveDirection; percent: string }
  /** a move of `percent` within a rolling window: up from the window's low, or down from its high */
  | { kind: 'window_move'; direction: MoveDirection; percent: string; windowSec: number };

export type RepeatPolicy = { kind: 'once' } | { kind: 'every'; cooldownSec: number };

/** What a user asked for, as parsed from `/alert …`; validated and normalised, not yet stored. */
export interface RuleSpec {
  pair: string;
  /** undefined → the bot's default exchange (first of EXCHANGES) */
  exchange?: string;
  condition: RuleCondition;
  repeat: RepeatPolicy;
  expiresAt?: Date;
  note?: string;
}

/** Which side of a level the last seen price was on (for crosses and re-arming). */
export type Side = 'above' | 'below';

/** Per-rule state the engine keeps and the store persists with every firing, so a restart neither re-fires nor forgets. */
export interface RuleRuntimeState {
  /** false after a firing until the rule may fire again */
  armed: boolean;
  /** move rules: the price percents are measured from; undefined until the first price after creation */
  referencePrice?: number;
  /** crosses rules: side of the level of the last price seen */
  side?: Side;
  /** repeating rules: the price went back across the level since the last firing */
  wentBack?: boolean;
  lastFiredAt?: number;
  fireCount: number;
}

export interface EngineRule {
  id: number;
  exchange: string;
  pair: string;
  condition: RuleCondition;
  repeat: RepeatPolicy;
  /** ms since epoch */
  expiresAt?: number;
  state: RuleRuntimeState;
}

export interface Firing {
  ruleId: number;
  exchange: string;
  pair: string;
  /** the price that fired the rule */
  price: number;
  /** tick time (exchange time), ms since epoch */
  at: number;
  source: 'stream' | 'poll' | 'gapfill' | 'rest';
  /** the rule's state after this firing, to persist in the same transaction as the notification */
  state: RuleRuntimeState;
  /** true when a `once` rule is now done */
  final: boolean;
  /** the rule's condition, for its message: a one-shot rule has left the engine by the time that is worded */
  condition: RuleCondition;
}
