/**
 * The `/alert` grammar: "<pair> <condition> [every 30m] [for 7d | until 2026-12-31] [on bybit] [-- note]"
 * → RuleSpec, and back (formatRuleSpec). Pure: the clock and the enabled exchanges are passed in.
 */

import { UserInputError } from '../errors.js';
import { msg, type Text } from '../i18n/index.js';
import { editDistance, normalisePair } from '../market/symbols.js';
import {
  compareDecimal, decimalPlaces, formatDuration, formatInstant, groupDigits, readDate, readDecimal, readDuration,
} from './numbers.js';
import type { LevelOp, MoveDirection, RuleCondition, RuleSpec } from './types.js';

export { formatDuration } from './numbers.js';

export interface AlertParseOptions {
  defaultQuote: string;
  exchanges: readonly string[];
  now: Date;
}

/** Commands other bots use for the same thing; the command layer routes them to /alert. */
export const ALERT_ALIASES: readonly string[] = ['set', 'add', 'setalert', 'newalert', 'create'];

const MIN = 60;
const DAY = 86_400;
const MAX_PRICE = '1000000000000000';
const MAX_NOTE = 200;
const MAX_INPUT = 1_000;
const [WINDOW, EVERY, FOR] = [[5 * MIN, 7 * DAY], [MIN, 30 * DAY], [MIN, 365 * DAY]] as const;
// a day longer than FOR, so "until <the same date next year>" still fits
const MAX_UNTIL_MS = 366 * DAY * 1000;

// Maps, not object literals: a user typing "constructor" must not find Object.prototype's
const OPS = new Map<string, LevelOp>([
  ['>', '>'], ['>=', '>='], ['=>', '>='], ['≥', '>='], ['above', '>'], ['over', '>'],
  ['<', '<'], ['<=', '<='], ['=<', '<='], ['≤', '<='], ['below', '<'], ['under', '<'],
]);
const CROSSES = ['crosses', 'cross', 'crossing'];
const DIRECTIONS = new Map<string, MoveDirection>([['up', 'up'], ['down', 'down'], ['move', 'any'], ['moves', 'any']]);
const SLOTS = new Map([['every', 'repeat'], ['once', 'repeat'], ['for', 'expiry'], ['until', 'expiry'], ['on', 'exchange']]);
const CONDITION_WORDS = ['above', 'below', 'over', 'under', 'crosses', 'up', 'down', 'moves'];
const OPTION_WORDS = ['every', 'once', 'for', 'until', 'on'];
const VOCABULARY = [...CONDITION_WORDS, ...OPTION_WORDS, 'in', 'within'];

const USAGE_EXAMPLE = '/alert BTC/USDT > 100000';

/** Parses what follows `/alert`. Throws UserInputError (message and an `/alert …` example) on bad input. */
export function parseAlert(text: string, opts: AlertParseOptions): RuleSpec {
  return parse(text, opts, true);
}

interface Ctx {
  opts: AlertParseOptions;
  tokens: string[]; // tokens[0] is the normalised pair once read
  i: number;
  noteSuffix: string;
  /** false while trying out a candidate example, so checking it never builds examples of its own */
  hints: boolean;
  spec?: RuleSpec;
}

function parse(text: string, opts: AlertParseOptions, hints: boolean): RuleSpec {
  const defaultExchange = opts.exchanges[0];
  if (defaultExchange === undefined) throw new Error('no exchange is enabled'); // config guarantees one
  if (text.length > MAX_INPUT) fail(msg('grammar.tooLong', { count: text.length }), USAGE_EXAMPLE);
  const cut = text.search(/--|—/);
  const note = cut < 0 ? '' : text.slice(cut + (text[cut] === '—' ? 1 : 2)).trim();
  const tokens = tokenize(cut < 0 ? text : text.slice(0, cut));
  if (tokens.length === 0) fail(msg('grammar.usage'), USAGE_EXAMPLE);
  const c: Ctx = { opts, tokens, i: 1, noteSuffix: note ? ` -- ${note}` : '', hints };
  readPair(c);
  // the exchange is resolved now, so reordering EXCHANGES later doesn't move existing rules
  const spec: RuleSpec = { pair: c.tokens[0]!, exchange: defaultExchange, condition: readCondition(c), repeat: { kind: 'once' } };
  c.spec = spec;
  readOptions(c, spec);
  if ([...note].length > MAX_NOTE) {
    const short = [...note].slice(0, MAX_NOTE).join('').trim();
    const example = `/alert ${formatRuleSpec(spec, { defaultExchange })} -- ${short}`;
    fail(msg('grammar.noteTooLong', { max: MAX_NOTE, count: [...note].length }), example);
  }
  if (note) spec.note = note;
  return spec;
}

function tokenize(body: string): string[] {
  const spaced = body
    .replace(/,(?=\s|$)/g, ' ') // "> 200, every 1h": a comma before a space separates, inside a number it groups
    .replace(/\s*\/\s*/g, '/')
    .replace(/([a-z0-9])\+(?=\d)/gi, '$1 +');
  const out: string[] = [];
  for (const t of spaced.match(/>=|<=|=>|=<|==|[=<>≥≤]|[^\s=<>≥≤]+/g) ?? []) {
    const last = out.length - 1;
    // "above200": split only words that are (nearly) ours, so exchange ids like "bitfinex2" stay whole
    const glued = out.length > 0 ? /^([a-z]+)([$+-]?\.?\d.*)$/i.exec(t) : null;
    if (glued && closest(glued[1]!, VOCABULARY) !== undefined) out.push(glued[1]!, glued[2]!);
    else if (t === '%' && last >= 0) out[last] = `${out[last]}%`;
    else if (out[last] === '$') out[last] = `$${t}`;
    else out.push(t);
  }
  return out;
}

function readPair(c: Ctx): void {
  const first = c.tokens[0]!;
  if (OPS.has(first.toLowerCase()) || VOCABULARY.includes(first.toLowerCase()) || looksNumeric(first)) {
    fail(msg('grammar.pairFirst'), fix(c, 0, 0, ['BTC/USDT'], USAGE_EXAMPLE));
  }
  try {
    c.tokens[0] = normalisePair(first, c.opts.defaultQuote);
  } catch (err) {
    if (!(err instanceof UserInputError)) throw err;
    throw err.withExample(fix(c, 0, 1, ['BTC/USDT'], USAGE_EXAMPLE));
  }
}

function readCondition(c: Ctx): RuleCondition {
  const pair = c.tokens[0]!;
  const t = c.tokens[1];
  if (t === undefined) fail(msg('grammar.whatCondition', { pair }), `/alert ${pair} +5%`);
  const w = t.toLowerCase();
  const op = OPS.get(w);
  if (op !== undefined) return { kind: 'level', op, price: readPrice(c, t) };
  if (CROSSES.includes(w)) return { kind: 'crosses', price: readPrice(c, t) };
  if (w === '=' || w === '==') {
    fail(msg('grammar.exactPrice'), fix(c, 1, 1, ['crosses'], `/alert ${pair} crosses 200`));
  }
  const word = DIRECTIONS.get(w);
  if (word !== undefined) c.i = 2;
  const p = c.tokens[c.i];
  if (p?.endsWith('%')) return readMove(c, p, word);
  if (word !== undefined) {
    const typed = p !== undefined && looksNumeric(p);
    const by = typed ? `${p}%` : '5%';
    fail(msg('grammar.byHowMuch', { word: t, by }), fix(c, 2, typed ? 1 : 0, [by], `/alert ${pair} ${w} 5%`));
  }
  if (/^[+-]\d/.test(t)) {
    fail(msg('grammar.percentSuffix', { token: t }), fix(c, 1, 1, [`${t}%`], `/alert ${pair} +5%`));
  }
  if (looksNumeric(t)) {
    // other bots read "/set BTC 100000" as above or below depending on the current price; we don't guess
    const above = fix(c, 1, 0, ['>'], '');
    if (above) fail(msg('grammar.addOpFor', { pair, token: t }), above);
    fail(msg('grammar.addOp'), `/alert ${pair} > 200`);
  }
  const split = quoteTypedApart(pair, t);
  if (split !== undefined) fail(msg('grammar.pairOneWord', { pair: split }), fix(c, 0, 2, [split], USAGE_EXAMPLE));
  return unknownWord(c, CONDITION_WORDS, `/alert ${pair} > 200`);
}

/** "BTC USDT > 1": a known quote currency (by normalisePair's suffix list) typed as a second word. */
function quoteTypedApart(pair: string, word: string): string | undefined {
  const base = pair.split('/')[0]!;
  try {
    // an impossible default quote makes normalisePair succeed only when it recognises `word` as a quote
    const joined = normalisePair(`${base}${word}`, '-');
    return joined === `${base}/${word.toUpperCase()}` ? joined : undefined;
  } catch {
    return undefined;
  }
}

function readPrice(c: Ctx, opWord: string): string {
  c.i = 2;
  const pair = c.tokens[0]!;
  const t = c.tokens[2];
  const fallback = `/alert ${pair} ${opWord} 200`;
  if (t === undefined) fail(msg('grammar.whatPrice', { word: opWord }), fallback);
  if (t.endsWith('%')) {
    const dir = (OPS.get(opWord.toLowerCase()) ?? '>').startsWith('>') ? 'up' : 'down';
    const pct = t.replace(/^[+-]/, '');
    const example = fix(c, 1, 2, [dir, pct], `/alert ${pair} ${dir} 5%`);
    fail(msg('grammar.levelPercent', { dir, pct }), example);
  }
  if (t.startsWith('-')) fail(msg('grammar.priceAboveZero'), fix(c, 2, 1, [t.slice(1)], fallback));
  const r = readDecimal(t, true);
  if (!r.ok) {
    fail(
      r.problem === 'grouping'
        ? msg('grammar.grouping', { token: clip(t) })
        : msg('grammar.badPrice', { token: clip(t) }),
      fallback,
    );
  }
  if (r.value === '0') fail(msg('grammar.priceAboveZero'), fallback);
  if (decimalPlaces(r.value) > 18) fail(msg('grammar.priceDecimals', { token: clip(t) }), fallback);
  if (compareDecimal(r.value, MAX_PRICE) > 0) fail(msg('grammar.priceTooLarge', { token: clip(t) }), fallback);
  c.i = 3;
  return r.value;
}

function readMove(c: Ctx, t: string, word: MoveDirection | undefined): RuleCondition {
  const pair = c.tokens[0]!;
  const sign: MoveDirection = t.startsWith('+') ? 'up' : t.startsWith('-') ? 'down' : 'any';
  if (word !== undefined && word !== 'any' && sign !== 'any' && word !== sign) {
    fail(msg('grammar.bothWays', { word: c.tokens[1]!, token: t }), fix(c, 2, 1, [t.slice(1)], `/alert ${pair} +5%`));
  }
  const direction = sign !== 'any' ? sign : (word ?? 'any');
  const fallback = `/alert ${pair} ${direction === 'down' ? '-' : '+'}5%`;
  const r = readDecimal(t.slice(sign === 'any' ? 0 : 1, -1), false);
  if (!r.ok) fail(msg('grammar.badPercent', { token: clip(t) }), fallback);
  if (r.value === '0') fail(msg('grammar.percentAboveZero'), fallback);
  if (decimalPlaces(r.value) > 4) fail(msg('grammar.percentDecimals', { token: clip(t) }), fallback);
  if (compareDecimal(r.value, direction === 'down' ? '100' : '1000') > 0) {
    fail(direction === 'down' ? msg('grammar.dropMax') : msg('grammar.moveMax'), fallback);
  }
  c.i++;
  const next = c.tokens[c.i]?.toLowerCase();
  if (next !== 'in' && next !== 'within') return { kind: 'move', direction, percent: r.value };
  c.i++;
  const windowSec = readDurationArg(c, next, WINDOW, '1h');
  return { kind: 'window_move', direction, percent: r.value, windowSec };
}

function readDurationArg(c: Ctx, word: string, [min, max]: readonly [number, number], sample: string): number {
  const t = c.tokens[c.i];
  const fallback = c.spec ? `${sofar(c)} ${word} ${sample}` : `/alert ${c.tokens[0]} 3% ${word} ${sample}`;
  if (t === undefined) fail(msg('grammar.howLong', { word, sample }), fix(c, c.i, 0, [sample], fallback));
  const r = readDuration(t, c.tokens[c.i + 1]);
  if (!r.ok) {
    const why = {
      unit: msg('grammar.durationUnit', { token: clip(t) }),
      no_unit: msg('grammar.durationNoUnit', { token: clip(t) }),
      nan: msg('grammar.durationBad', { token: clip(t) }),
    };
    fail(why[r.problem], fix(c, c.i, 1, [r.problem === 'no_unit' ? `${t}m` : sample], fix(c, c.i, 1, [sample], fallback)));
  }
  if (r.sec < min || r.sec > max) {
    // durations inside an error stay in the form the user types them ("1h"), whatever the language
    fail(msg('grammar.durationRange', { word, min: formatDuration(min), max: formatDuration(max), token: clip(t) }), fix(c, c.i, r.used, [sample], fallback));
  }
  c.i += r.used;
  return r.sec;
}

function readOptions(c: Ctx, spec: RuleSpec): void {
  const { exchanges, now } = c.opts;
  const seen = new Map<string, string>();
  while (c.i < c.tokens.length) {
    const w = c.tokens[c.i]!.toLowerCase();
    const slot = SLOTS.get(w);
    const here = sofar(c);
    if (slot === undefined) {
      if (w === 'in' || w === 'within') fail(msg('grammar.inAfterPercent', { word: w }), `/alert ${spec.pair} 3% in 1h`);
      unknownWord(c, OPTION_WORDS, here);
    }
    const earlier = seen.get(slot);
    if (earlier !== undefined) {
      fail(earlier === w ? msg('grammar.twice', { word: w }) : msg('grammar.eitherOr', { earlier, word: w }), here);
    }
    seen.set(slot, w);
    c.i++;
    if (w === 'once') spec.repeat = { kind: 'once' };
    else if (w === 'every') spec.repeat = { kind: 'every', cooldownSec: readDurationArg(c, w, EVERY, '30m') };
    else if (w === 'for') spec.expiresAt = new Date(now.getTime() + readDurationArg(c, w, FOR, '7d') * 1000);
    else if (w === 'until') spec.expiresAt = readUntil(c, here);
    else {
      const t = c.tokens[c.i];
      const enabled = exchanges.find((e) => e.toLowerCase() === t?.toLowerCase());
      if (enabled === undefined) {
        const enabledList = exchanges.join(', ');
        const example = `${here} on ${closest(t ?? '', exchanges) ?? exchanges[0]}`;
        fail(t === undefined ? msg('exchange.which', { enabled: enabledList }) : msg('exchange.notEnabled', { exchange: clip(t), enabled: enabledList }), example);
      }
      spec.exchange = enabled;
      c.i++;
    }
  }
}

function readUntil(c: Ctx, here: string): Date {
  const t = c.tokens[c.i];
  const now = c.opts.now.getTime();
  const example = `${here} until ${new Date(now + 7 * DAY * 1000).toISOString().slice(0, 10)}`;
  if (t === undefined) fail(msg('grammar.untilWhen'), example);
  const r = readDate(t, c.tokens[c.i + 1]);
  if (!r.ok) fail(msg('grammar.badDate', { token: clip(t) }), example);
  if (r.ms <= now) fail(msg('grammar.pastDate', { token: clip(t) }), example);
  if (r.ms > now + MAX_UNTIL_MS) fail(msg('grammar.untilMax'), example);
  c.i += r.used;
  return new Date(r.ms);
}

/** The example for an option mistake: everything that parsed so far. */
function sofar(c: Ctx): string {
  return c.spec ? `/alert ${formatRuleSpec(c.spec, { defaultExchange: c.opts.exchanges[0] })}` : USAGE_EXAMPLE;
}

function unknownWord(c: Ctx, words: readonly string[], fallback: string): never {
  const t = c.tokens[c.i]!;
  const guess = closest(t, words);
  if (guess === undefined) fail(msg('grammar.unknownWord', { token: clip(t) }), fallback);
  return fail(msg('grammar.unknownWordGuess', { token: clip(t), guess }), fix(c, c.i, 1, [guess], fallback));
}

/** An example built from what the user typed with one span replaced, used only if it parses. */
function fix(c: Ctx, at: number, count: number, replacement: readonly string[], fallback: string): string {
  if (!c.hints) return fallback;
  const tokens = [...c.tokens.slice(0, at), ...replacement, ...c.tokens.slice(at + count)];
  const candidate = tokens.join(' ') + c.noteSuffix;
  try {
    parse(candidate, c.opts, false);
    return `/alert ${candidate}`;
  } catch {
    return fallback;
  }
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  if (w.length < 3) return undefined;
  let best: string | undefined;
  let bestDistance = w.length >= 5 ? 3 : 2;
  for (const candidate of candidates) {
    const d = editDistance(w, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function looksNumeric(t: string): boolean {
  return /^\$?[\d.,_]*\d[\d.,_]*[kmb]?$/i.test(t);
}

function clip(t: string): string {
  return t.length > 30 ? `${t.slice(0, 30)}…` : t;
}

function fail(text: Text, example: string): never {
  throw new UserInputError(text, example);
}

/** The canonical `/alert` arguments for a spec; parseAlert(formatRuleSpec(spec)) gives the spec back. */
export function formatRuleSpec(spec: RuleSpec, opts: { defaultExchange?: string } = {}): string {
  const c = spec.condition;
  const parts = [spec.pair];
  if (c.kind === 'level') parts.push(c.op, c.price);
  else if (c.kind === 'crosses') parts.push('crosses', c.price);
  else parts.push(`${{ up: 'up ', down: 'down ', any: '' }[c.direction]}${c.percent}%`);
  if (c.kind === 'window_move') parts.push('in', formatDuration(c.windowSec));
  if (spec.repeat.kind === 'every') parts.push('every', formatDuration(spec.repeat.cooldownSec));
  if (spec.expiresAt) parts.push('until', formatInstant(spec.expiresAt));
  if (spec.exchange !== undefined && spec.exchange !== opts.defaultExchange) parts.push('on', spec.exchange);
  if (spec.note) parts.push('--', spec.note);
  return parts.join(' ');
}

const LEVEL_WORDS: Record<LevelOp, string> = { '>': 'above', '>=': 'at or above', '<': 'below', '<=': 'at or below' };
const MOVE_WORDS: Record<MoveDirection, string> = { up: 'up', down: 'down', any: 'moves' };

/** Human text for replies and listings: "SOL/USDT above 200", "ETH/USDT moves 3% within 1h". */
export function describeCondition(c: RuleCondition, pair: string): string {
  if (c.kind === 'level') return `${pair} ${LEVEL_WORDS[c.op]} ${groupDigits(c.price)}`;
  if (c.kind === 'crosses') return `${pair} crosses ${groupDigits(c.price)}`;
  const span = c.kind === 'move' ? 'from creation' : `within ${formatDuration(c.windowSec)}`;
  return `${pair} ${MOVE_WORDS[c.direction]} ${c.percent}% ${span}`;
}

/** The `/alert` form of what a user typed after an alias, for a "this is /alert …" hint. */
export function aliasHint(alias: string, args: string): string {
  const name = alias.replace(/^\//, '').toLowerCase();
  if (!ALERT_ALIASES.includes(name)) throw new Error(`/${name} is not an alert alias`);
  const rest = args.trim().replace(/\s+/g, ' ');
  return rest ? `/alert ${rest}` : '/alert';
}
