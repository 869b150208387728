import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ALERT_ALIASES,
  aliasHint,
  describeCondition,
  formatDuration,
  formatRuleSpec,
  parseAlert,
  type AlertParseOptions,
} from '../../../src/alerts/grammar.js';
import { compareDecimal, readDecimal } from '../../../src/alerts/numbers.js';
import type { RuleCondition, RuleSpec } from '../../../src/alerts/types.js';
import { UserInputError } from '../../../src/errors.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const EXCHANGES = ['binance', 'bybit', 'okx'];
const OPTS: AlertParseOptions = { defaultQuote: 'USDT', exchanges: EXCHANGES, now: NOW };
const MIN = 60;
const HOUR = 3600;
const DAY = 86_400;

const parse = (text: string) => parseAlert(text, OPTS);
const level = (op: '>' | '>=' | '<' | '<=', price: string): RuleCondition => ({ kind: 'level', op, price });
const move = (direction: 'up' | 'down' | 'any', percent: string): RuleCondition => ({ kind: 'move', direction, percent });
const win = (direction: 'up' | 'down' | 'any', percent: string, windowSec: number): RuleCondition => ({
  kind: 'window_move',
  direction,
  percent,
  windowSec,
});
function spec(pair: string, condition: RuleCondition, extra: Partial<RuleSpec> = {}): RuleSpec {
  return { pair, exchange: 'binance', condition, repeat: { kind: 'once' }, ...extra };
}

/** Runs parseAlert expecting a UserInputError and returns it. */
function rejection(text: string, opts = OPTS): UserInputError {
  try {
    parseAlert(text, opts);
  } catch (err) {
    if (err instanceof UserInputError) return err;
    throw err;
  }
  throw new Error(`expected ${JSON.stringify(text)} to be rejected`);
}

describe('parseAlert accepts', () => {
  const SOL_200 = spec('SOL/USDT', level('>', '200'));
  it.each<[string, RuleSpec]>([
    // pairs
    ['SOL/USDT > 200', SOL_200],
    ['SOLUSDT > 200', SOL_200],
    ['sol-usdt > 200', SOL_200],
    ['sol_usdt > 200', SOL_200],
    ['sol > 200', SOL_200],
    ['SOL / USDT > 200', SOL_200],
    ['  sol   >   200  ', SOL_200],
    ['ethbtc < 0.05', spec('ETH/BTC', level('<', '0.05'))],
    ['1000sats/usdt > 0.0003', spec('1000SATS/USDT', level('>', '0.0003'))],
    // levels
    ['sol >200', SOL_200],
    ['sol>200', SOL_200],
    ['sol above 200', SOL_200],
    ['SOL ABOVE 200', SOL_200],
    ['sol over 200', SOL_200],
    ['sol above200', SOL_200],
    ['sol >= 200', spec('SOL/USDT', level('>=', '200'))],
    ['sol => 200', spec('SOL/USDT', level('>=', '200'))],
    ['sol>=200', spec('SOL/USDT', level('>=', '200'))],
    ['sol ≥ 200', spec('SOL/USDT', level('>=', '200'))],
    ['sol < 200', spec('SOL/USDT', level('<', '200'))],
    ['sol below 200', spec('SOL/USDT', level('<', '200'))],
    ['sol under 200', spec('SOL/USDT', level('<', '200'))],
    ['sol <= 200', spec('SOL/USDT', level('<=', '200'))],
    ['sol =< 200', spec('SOL/USDT', level('<=', '200'))],
    ['sol<=200', spec('SOL/USDT', level('<=', '200'))],
    // numbers
    ['btc > 100k', spec('BTC/USDT', level('>', '100000'))],
    ['btc > 100K', spec('BTC/USDT', level('>', '100000'))],
    ['btc > 1.5m', spec('BTC/USDT', level('>', '1500000'))],
    ['btc > $200', spec('BTC/USDT', level('>', '200'))],
    ['btc > $ 200', spec('BTC/USDT', level('>', '200'))],
    ['btc >$200', spec('BTC/USDT', level('>', '200'))],
    ['btc > 1_000', spec('BTC/USDT', level('>', '1000'))],
    ['btc > 1,000', spec('BTC/USDT', level('>', '1000'))],
    ['btc > 1,000.50', spec('BTC/USDT', level('>', '1000.5'))],
    ['btc > 0.1k', spec('BTC/USDT', level('>', '100'))],
    ['btc > 200.5', spec('BTC/USDT', level('>', '200.5'))],
    ['pepe < 0.00001234', spec('PEPE/USDT', level('<', '0.00001234'))],
    ['btc > 1000000000000000', spec('BTC/USDT', level('>', '1000000000000000'))],
    ['shib > 0.000000000000000001', spec('SHIB/USDT', level('>', '0.000000000000000001'))],
    // crosses
    ['btc crosses 100k', spec('BTC/USDT', { kind: 'crosses', price: '100000' })],
    ['btc cross 100k', spec('BTC/USDT', { kind: 'crosses', price: '100000' })],
    ['BTC Crossing 100,000', spec('BTC/USDT', { kind: 'crosses', price: '100000' })],
    // moves from creation
    ['eth +5%', spec('ETH/USDT', move('up', '5'))],
    ['eth+5%', spec('ETH/USDT', move('up', '5'))],
    ['eth -5%', spec('ETH/USDT', move('down', '5'))],
    ['eth 5%', spec('ETH/USDT', move('any', '5'))],
    ['eth 5 %', spec('ETH/USDT', move('any', '5'))],
    ['eth up 5%', spec('ETH/USDT', move('up', '5'))],
    ['eth UP +5%', spec('ETH/USDT', move('up', '5'))],
    ['eth down 5%', spec('ETH/USDT', move('down', '5'))],
    ['eth down -5%', spec('ETH/USDT', move('down', '5'))],
    ['eth moves 5%', spec('ETH/USDT', move('any', '5'))],
    ['eth 2.5%', spec('ETH/USDT', move('any', '2.5'))],
    ['eth 0.0001%', spec('ETH/USDT', move('any', '0.0001'))],
    ['eth 1000%', spec('ETH/USDT', move('any', '1000'))],
    ['eth -100%', spec('ETH/USDT', move('down', '100'))],
    ['eth 5.50%', spec('ETH/USDT', move('any', '5.5'))],
    // moves within a window
    ['eth 3% in 1h', spec('ETH/USDT', win('any', '3', HOUR))],
    ['eth +3% in 15m', spec('ETH/USDT', win('up', '3', 15 * MIN))],
    ['eth -2% in 4h', spec('ETH/USDT', win('down', '2', 4 * HOUR))],
    ['eth 5% in 24h', spec('ETH/USDT', win('any', '5', DAY))],
    ['eth 5% in 90m', spec('ETH/USDT', win('any', '5', 90 * MIN))],
    ['eth 5% in 1d', spec('ETH/USDT', win('any', '5', DAY))],
    ['eth 5% in 5m', spec('ETH/USDT', win('any', '5', 5 * MIN))],
    ['eth 5% in 7d', spec('ETH/USDT', win('any', '5', 7 * DAY))],
    ['eth 5% in 1w', spec('ETH/USDT', win('any', '5', 7 * DAY))],
    ['eth 5% in 1h30m', spec('ETH/USDT', win('any', '5', 90 * MIN))],
    ['eth 5% in 30 min', spec('ETH/USDT', win('any', '5', 30 * MIN))],
    ['eth 5% in 2 hours', spec('ETH/USDT', win('any', '5', 2 * HOUR))],
    ['eth 5% in 1 day', spec('ETH/USDT', win('any', '5', DAY))],
    ['eth 5% in 10mins', spec('ETH/USDT', win('any', '5', 10 * MIN))],
    ['eth up 3% within 1h', spec('ETH/USDT', win('up', '3', HOUR))],
    ['eth moves 3% within 1h', spec('ETH/USDT', win('any', '3', HOUR))],
    // options
    ['sol > 200 every 30m', spec('SOL/USDT', level('>', '200'), { repeat: { kind: 'every', cooldownSec: 30 * MIN } })],
    ['sol > 200 every 1m', spec('SOL/USDT', level('>', '200'), { repeat: { kind: 'every', cooldownSec: MIN } })],
    ['sol > 200 every 30d', spec('SOL/USDT', level('>', '200'), { repeat: { kind: 'every', cooldownSec: 30 * DAY } })],
    ['sol > 200 every 2 hours', spec('SOL/USDT', level('>', '200'), { repeat: { kind: 'every', cooldownSec: 2 * HOUR } })],
    ['sol > 200 once', SOL_200],
    ['sol > 200 for 7d', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2026-03-08T12:00:00.000Z') })],
    ['sol > 200 for 365d', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2027-03-01T12:00:00.000Z') })],
    ['sol > 200 for 1m', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2026-03-01T12:01:00.000Z') })],
    ['sol > 200 until 2026-12-31', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2026-12-31T23:59:59.999Z') })],
    ['sol > 200 until 2026-03-01', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2026-03-01T23:59:59.999Z') })],
    ['sol > 200 until 2026-12-31T18:00Z', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2026-12-31T18:00:00.000Z') })],
    ['sol > 200 until 2026-12-31t18:00:30z', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2026-12-31T18:00:30.000Z') })],
    ['sol > 200 until 2026-12-31T18:00:30.250Z', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2026-12-31T18:00:30.250Z') })],
    ['sol > 200 until 2026-12-31 18:00', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2026-12-31T18:00:00.000Z') })],
    ['sol > 200 until 2027-03-01', spec('SOL/USDT', level('>', '200'), { expiresAt: new Date('2027-03-01T23:59:59.999Z') })],
    ['sol > 200 on bybit', spec('SOL/USDT', level('>', '200'), { exchange: 'bybit' })],
    ['sol > 200 on OKX', spec('SOL/USDT', level('>', '200'), { exchange: 'okx' })],
    ['sol > 200 on binance', SOL_200],
    ['sol > 200 -- take profit', spec('SOL/USDT', level('>', '200'), { note: 'take profit' })],
    ['sol > 200 --take profit  ', spec('SOL/USDT', level('>', '200'), { note: 'take profit' })],
    ['sol>200--tp', spec('SOL/USDT', level('>', '200'), { note: 'tp' })],
    ['sol > 200 — take profit', spec('SOL/USDT', level('>', '200'), { note: 'take profit' })],
    ['sol > 200 -- sell -- all of it, NOW', spec('SOL/USDT', level('>', '200'), { note: 'sell -- all of it, NOW' })],
    ['sol > 200 --   ', SOL_200],
    ['sol > 200, every 1h', spec('SOL/USDT', level('>', '200'), { repeat: { kind: 'every', cooldownSec: HOUR } })],
    [
      'SOL/USDT > 200 every 30m -- take profit',
      spec('SOL/USDT', level('>', '200'), { repeat: { kind: 'every', cooldownSec: 30 * MIN }, note: 'take profit' }),
    ],
    [
      'eth -2% in 4h on bybit for 7d every 1h — dip buy',
      spec('ETH/USDT', win('down', '2', 4 * HOUR), {
        exchange: 'bybit',
        repeat: { kind: 'every', cooldownSec: HOUR },
        expiresAt: new Date('2026-03-08T12:00:00.000Z'),
        note: 'dip buy',
      }),
    ],
    [
      'BTC crosses 100k until 2026-06-30 on okx every 4h',
      spec('BTC/USDT', { kind: 'crosses', price: '100000' }, {
        exchange: 'okx',
        repeat: { kind: 'every', cooldownSec: 4 * HOUR },
        expiresAt: new Date('2026-06-30T23:59:59.999Z'),
      }),
    ],
  ])('%j', (text, expected) => {
    expect(parse(text)).toStrictEqual(expected);
  });

  it('uses the configured default quote and the first exchange by default', () => {
    expect(parseAlert('sol > 200', { ...OPTS, defaultQuote: 'USDC', exchanges: ['okx', 'binance'] })).toStrictEqual({
      ...SOL_200,
      pair: 'SOL/USDC',
      exchange: 'okx',
    });
  });

  it('keeps a note of exactly 200 characters, counting characters rather than UTF-16 units', () => {
    const note = '🚀'.repeat(200);
    expect(parse(`sol > 200 -- ${note}`).note).toBe(note);
  });
});

describe('parseAlert rejects', () => {
  it.each<[string, RegExp, string | RegExp]>([
    ['', /pair and a condition: > 200, < 200, crosses 100k, \+5%, -5%, or 3% in 1h/, '/alert BTC/USDT > 100000'],
    ['   ', /pair and a condition/, '/alert BTC/USDT > 100000'],
    ['-- just a note', /pair and a condition/, '/alert BTC/USDT > 100000'],
    ['sol', /^What should SOL\/USDT do\?/, '/alert SOL/USDT +5%'],
    ['sol abov 200', /^I don't understand "abov"\. Did you mean "above"\?$/, '/alert SOL/USDT above 200'],
    ['SOL/USDT belwo 150 -- dip', /Did you mean "below"/, '/alert SOL/USDT below 150 -- dip'],
    ['btc crosess 100k', /Did you mean "crosses"/, '/alert BTC/USDT crosses 100k'],
    ['btc foo 200', /^I don't understand "foo"\.$/, '/alert BTC/USDT > 200'],
    ['BTC 100000', /\/alert BTC\/USDT > 100000 or \/alert BTC\/USDT < 100000/, '/alert BTC/USDT > 100000'],
    ['btc 100k every 1h', /\/alert BTC\/USDT > 100k or \/alert BTC\/USDT < 100k/, '/alert BTC/USDT > 100k every 1h'],
    ['btc 0', /Add > or </, '/alert BTC/USDT > 200'],
    ['BTC USDT > 100000', /as one word, like BTC\/USDT/, '/alert BTC/USDT > 100000'],
    ['> 200', /^Start with the pair/, '/alert BTC/USDT > 200'],
    ['above 200', /^Start with the pair/, '/alert BTC/USDT above 200'],
    ['btc$ > 200', /doesn't look like a trading pair/, '/alert BTC/USDT > 200'],
    ['btc >', /^> what price\?/, '/alert BTC/USDT > 200'],
    ['btc > -200', /above zero/, '/alert BTC/USDT > 200'],
    ['btc above -5k', /above zero/, '/alert BTC/USDT above 5k'],
    ['btc > 0', /above zero/, '/alert BTC/USDT > 200'],
    ['btc > 0.000', /above zero/, '/alert BTC/USDT > 200'],
    ['btc > 1,00', /group digits in threes/, '/alert BTC/USDT > 200'],
    ['btc > 1.000.000', /group digits in threes/, '/alert BTC/USDT > 200'],
    ['btc > 12,34,567', /group digits in threes/, '/alert BTC/USDT > 200'],
    ['btc > abc', /isn't a price I can read/, '/alert BTC/USDT > 200'],
    ['btc > 1e5', /isn't a price I can read/, '/alert BTC/USDT > 200'],
    ['btc > 1000000000000000.1', /too large/, '/alert BTC/USDT > 200'],
    ['btc > 2000t', /isn't a price/, '/alert BTC/USDT > 200'],
    ['btc > 2000000000000000', /too large/, '/alert BTC/USDT > 200'],
    ['btc > 0.0000000000000000001', /more than 18 decimals/, '/alert BTC/USDT > 200'],
    ['btc = 200', /use crosses/, '/alert BTC/USDT crosses 200'],
    ['btc above 5%', /can't be a percent; for a move write up 5%/, '/alert BTC/USDT up 5%'],
    ['btc < -5% every 1h', /write down 5%/, '/alert BTC/USDT down 5% every 1h'],
    ['btc up 5', /^up by how much\? Add a percent, like up 5%\.$/, '/alert BTC/USDT up 5%'],
    ['btc down', /^down by how much\?/, '/alert BTC/USDT down 5%'],
    ['btc up -5%', /points both ways/, '/alert BTC/USDT up 5%'],
    ['btc -5', /Did you mean -5%\?/, '/alert BTC/USDT -5%'],
    ['btc 0%', /above zero/, '/alert BTC/USDT +5%'],
    ['btc 1001%', /at most 1000%/, '/alert BTC/USDT +5%'],
    ['btc down 101%', /at most 100%/, '/alert BTC/USDT -5%'],
    ['btc 1.00001%', /at most 4 decimals/, '/alert BTC/USDT +5%'],
    ['btc 5k%', /isn't a percent/, '/alert BTC/USDT +5%'],
    ['btc 5% in', /^in how long\?/, '/alert BTC/USDT 5% in 1h'],
    ['btc 5% in 1', /^1 what\? Add a unit/, '/alert BTC/USDT 5% in 1h'],
    ['btc 5% in 30', /^30 what\?/, '/alert BTC/USDT 5% in 30m'],
    ['btc 5% in 2m', /takes 5m to 7d; 2m is out of range/, '/alert BTC/USDT 5% in 1h'],
    ['btc 5% in 8d', /takes 5m to 7d/, '/alert BTC/USDT 5% in 1h'],
    ['btc 5% in 30s', /unit in "30s"; use m, h, d or w/, '/alert BTC/USDT 5% in 1h'],
    ['btc 5% in 1.5h', /isn't a duration/, '/alert BTC/USDT 5% in 1h'],
    ['btc > 200 in 1h', /only follows a percent/, '/alert BTC/USDT 3% in 1h'],
    ['btc > 200 every', /^every how long\?/, '/alert BTC/USDT > 200 every 30m'],
    ['btc > 200 every 30', /^30 what\?/, '/alert BTC/USDT > 200 every 30m'],
    ['btc > 200 every 31d', /takes 1m to 30d/, '/alert BTC/USDT > 200 every 30m'],
    ['btc > 200 every 1h every 2h', /gave "every" twice/, '/alert BTC/USDT > 200 every 1h'],
    ['btc > 200 once every 2h', /either "once" or "every"/, '/alert BTC/USDT > 200'],
    ['btc > 200 on bybit on okx', /gave "on" twice/, '/alert BTC/USDT > 200 on bybit'],
    ['btc > 200 for 7d until 2026-12-31', /either "for" or "until"/, '/alert BTC/USDT > 200 until 2026-03-08T12:00Z'],
    ['btc > 200 for 366d', /takes 1m to 365d/, '/alert BTC/USDT > 200 for 7d'],
    ['btc > 200 until 2025-12-31', /2025-12-31 is in the past/, '/alert BTC/USDT > 200 until 2026-03-08'],
    ['btc > 200 until 2026-03-01T11:00Z', /in the past/, '/alert BTC/USDT > 200 until 2026-03-08'],
    ['btc > 200 until 2026-02-30', /can't read "2026-02-30" as a date/, '/alert BTC/USDT > 200 until 2026-03-08'],
    ['btc > 200 until 2026-12-31T25:00Z', /as a date/, '/alert BTC/USDT > 200 until 2026-03-08'],
    ['btc > 200 until tomorrow', /as a date/, '/alert BTC/USDT > 200 until 2026-03-08'],
    ['btc > 200 until', /^until when\?/, '/alert BTC/USDT > 200 until 2026-03-08'],
    ['btc > 200 until 2027-03-03', /at most a year ahead/, '/alert BTC/USDT > 200 until 2026-03-08'],
    ['btc > 200 on kraken', /^kraken is not enabled on this bot\. Enabled: binance, bybit, okx\.$/, '/alert BTC/USDT > 200 on binance'],
    ['btc > 200 on bybt', /not enabled/, '/alert BTC/USDT > 200 on bybit'],
    ['btc > 200 on', /^On which exchange\?/, '/alert BTC/USDT > 200 on binance'],
    ['btc > 200 evry 1h', /Did you mean "every"\?/, '/alert BTC/USDT > 200 every 1h'],
    ['btc > 200 untill 2026-12-31', /Did you mean "until"\?/, '/alert BTC/USDT > 200 until 2026-12-31'],
    ['btc > 200 300', /^I don't understand "300"\.$/, '/alert BTC/USDT > 200'],
    [`btc > 200 -- ${'x'.repeat(201)}`, /up to 200 characters; yours has 201/, `/alert BTC/USDT > 200 -- ${'x'.repeat(200)}`],
    ['x'.repeat(1001), /too long/, '/alert BTC/USDT > 100000'],
    // prototype keys must not be mistaken for grammar words or units
    ['btc constructor 5', /I don't understand "constructor"/, /^\/alert /],
    ['btc __proto__ 5', /I don't understand "__proto__"/, /^\/alert /],
    ['btc > 200 every 1constructor', /unit/, '/alert BTC/USDT > 200 every 30m'],
    ['btc > 200 on constructor', /not enabled/, /^\/alert /],
    ['btc > 200 toString', /I don't understand/, /^\/alert /],
  ])('%j', (text, message, example) => {
    const err = rejection(text);
    expect(err.message).toMatch(message);
    if (typeof example === 'string') expect(err.example).toBe(example);
    else expect(err.example).toMatch(example);
    expect(err.message.split('\n').length).toBeLessThanOrEqual(2);
    expect(err.message.length).toBeLessThanOrEqual(200);
    // the example must itself be a working command
    expect(() => parse(err.example!.replace(/^\/alert /, ''))).not.toThrow();
  });

  it('treats an unknown exchange list as a programming error, not user input', () => {
    expect(() => parseAlert('btc > 1', { ...OPTS, exchanges: [] })).toThrow(/no exchange/);
  });
});

describe('decimal reading is exact', () => {
  it.each([
    ['200', '200'],
    ['200.5', '200.5'],
    ['$200', '200'],
    ['100k', '100000'],
    ['100K', '100000'],
    ['1.5m', '1500000'],
    ['1.5M', '1500000'],
    ['1.5b', '1500000000'],
    ['0.1k', '100'],
    ['1_000', '1000'],
    ['1,000', '1000'],
    ['1,000,000', '1000000'],
    ['1_000_000.25', '1000000.25'],
    ['1,000.50', '1000.5'],
    ['0.00001234', '0.00001234'],
    ['007', '7'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['0', '0'],
    // each of these is off by a rounding error when done in binary floating point
    ['1.1m', '1100000'],
    ['4.35k', '4350'],
    ['0.1234567k', '123.4567'],
    ['1.23456789m', '1234567.89'],
    ['0.30000000000000004', '0.30000000000000004'],
    ['123456789012345.678901234567', '123456789012345.678901234567'],
    ['0.000000000000000001', '0.000000000000000001'],
  ])('%s → %s', (raw, value) => {
    expect(readDecimal(raw, true)).toEqual({ ok: true, value });
  });

  it.each([
    ['1,00', 'grouping'],
    ['1,0000', 'grouping'],
    ['1234,567', 'grouping'],
    ['1.000.000', 'grouping'],
    ['1,000_000', 'grouping'],
    ['1__000', 'grouping'],
    ['abc', 'nan'],
    ['1e5', 'nan'],
    ['-1', 'nan'],
    ['', 'nan'],
    ['.', 'nan'],
    ['k', 'nan'],
    ['$', 'nan'],
    ['1k5', 'nan'],
    ['١٢٣', 'nan'],
  ])('%j is refused (%s)', (raw, problem) => {
    expect(readDecimal(raw, true)).toEqual({ ok: false, problem });
  });

  it('takes neither $ nor suffixes outside money', () => {
    expect(readDecimal('5k', false).ok).toBe(false);
    expect(readDecimal('$5', false).ok).toBe(false);
    expect(readDecimal('5.25', false)).toEqual({ ok: true, value: '5.25' });
  });

  it('compares canonical decimals exactly', () => {
    expect(compareDecimal('1000000000000000', '1000000000000000.000000000000000001')).toBe(-1);
    expect(compareDecimal('99.9', '100')).toBe(-1);
    expect(compareDecimal('100', '100')).toBe(0);
    expect(compareDecimal('0.2', '0.19999')).toBe(1);
  });

  it('matches BigInt arithmetic for k/m suffixes (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.integer({ min: 0, max: 3 }), fc.constantFrom('', 'k', 'm'), (cents, places, suffix) => {
        const scaled = cents.toString().padStart(places + 1, '0');
        const typed = places === 0 ? scaled : `${scaled.slice(0, -places)}.${scaled.slice(-places)}`;
        const power = { '': 0, k: 3, m: 6 }[suffix];
        // value = cents × 10^(power − places), as an exact decimal string
        const exponent = power - places;
        const digits = exponent >= 0 ? (cents * 10n ** BigInt(exponent)).toString() : cents.toString().padStart(-exponent + 1, '0');
        const raw = exponent >= 0 ? digits : `${digits.slice(0, exponent)}.${digits.slice(exponent)}`;
        const expected = raw.includes('.') ? raw.replace(/0+$/, '').replace(/\.$/, '') : raw;
        expect(readDecimal(`${typed}${suffix}`, true)).toEqual({ ok: true, value: expected });
      }),
    );
  });
});

describe('formatDuration', () => {
  it.each([
    [30 * MIN, '30m'],
    [HOUR, '1h'],
    [90 * MIN, '1h30m'],
    [DAY, '1d'],
    [7 * DAY, '7d'],
    [DAY + 2 * HOUR + 5 * MIN, '1d2h5m'],
    [45, '45s'],
    [0, '0m'],
  ])('%i → %s', (sec, text) => expect(formatDuration(sec)).toBe(text));
});

describe('describeCondition', () => {
  it.each<[RuleCondition, string]>([
    [level('>', '200'), 'SOL/USDT above 200'],
    [level('>=', '200'), 'SOL/USDT at or above 200'],
    [level('<', '0.00001234'), 'SOL/USDT below 0.00001234'],
    [level('<=', '1234567.5'), 'SOL/USDT at or below 1,234,567.5'],
    [{ kind: 'crosses', price: '100000' }, 'SOL/USDT crosses 100,000'],
    [move('up', '5'), 'SOL/USDT up 5% from creation'],
    [move('down', '2.5'), 'SOL/USDT down 2.5% from creation'],
    [move('any', '5'), 'SOL/USDT moves 5% from creation'],
    [win('any', '3', HOUR), 'SOL/USDT moves 3% within 1h'],
    [win('up', '3', 90 * MIN), 'SOL/USDT up 3% within 1h30m'],
  ])('%j', (condition, text) => expect(describeCondition(condition, 'SOL/USDT')).toBe(text));
});

describe('formatRuleSpec', () => {
  it.each<[string, string]>([
    ['sol above 200', 'SOL/USDT > 200'],
    ['sol => 1.5k', 'SOL/USDT >= 1500'],
    ['btc cross 100k', 'BTC/USDT crosses 100000'],
    ['eth +5%', 'ETH/USDT up 5%'],
    ['eth -5%', 'ETH/USDT down 5%'],
    ['eth moves 3% within 90m', 'ETH/USDT 3% in 1h30m'],
    ['eth 3% in 1h for 7d every 30m on bybit -- hi', 'ETH/USDT 3% in 1h every 30m until 2026-03-08T12:00Z on bybit -- hi'],
    ['sol > 200 until 2026-12-31', 'SOL/USDT > 200 until 2026-12-31'],
  ])('%j → %j', (typed, canonical) => {
    expect(formatRuleSpec(parse(typed), { defaultExchange: 'binance' })).toBe(canonical);
  });

  it('names the exchange unless told which one is the default', () => {
    expect(formatRuleSpec(parse('sol > 200'))).toBe('SOL/USDT > 200 on binance');
  });
});

describe('aliases', () => {
  it('lists the other bots’ command names', () => {
    expect(ALERT_ALIASES).toEqual(['set', 'add', 'setalert', 'newalert', 'create']);
  });

  it.each([
    ['setalert', 'btc > 100000', '/alert btc > 100000'],
    ['/set', '  BTC   100000 ', '/alert BTC 100000'],
    ['create', '', '/alert'],
  ])('/%s %j → %j', (alias, args, hint) => expect(aliasHint(alias, args)).toBe(hint));

  it('refuses a command that is not an alias', () => {
    expect(() => aliasHint('price', 'btc')).toThrow(/not an alert alias/);
  });
});

describe('properties', () => {
  const digits = (max: number) => fc.stringMatching(new RegExp(`^[0-9]{0,${max}}$`));
  const decimal = (intMax: bigint, fracDigits: number) =>
    fc.tuple(fc.bigInt({ min: 0n, max: intMax }), digits(fracDigits)).map(([i, f]) => {
      const frac = f.replace(/0+$/, '');
      return frac ? `${i}.${frac}` : `${i}`;
    });
  const price = decimal(10n ** 15n, 18).filter((p) => p !== '0' && compareDecimal(p, '1000000000000000') <= 0);
  const percent = (max: string) => decimal(1000n, 4).filter((p) => p !== '0' && compareDecimal(p, max) <= 0);
  const minutes = (min: number, max: number) => fc.integer({ min, max }).map((m) => m * MIN);

  const condition: fc.Arbitrary<RuleCondition> = fc.oneof(
    fc.record({ kind: fc.constant('level' as const), op: fc.constantFrom('>' as const, '>=' as const, '<' as const, '<=' as const), price }),
    fc.record({ kind: fc.constant('crosses' as const), price }),
    fc.constantFrom('up' as const, 'down' as const, 'any' as const).chain((direction) =>
      fc.oneof(
        fc.record({ kind: fc.constant('move' as const), direction: fc.constant(direction), percent: percent(direction === 'down' ? '100' : '1000') }),
        fc.record({
          kind: fc.constant('window_move' as const),
          direction: fc.constant(direction),
          percent: percent(direction === 'down' ? '100' : '1000'),
          windowSec: minutes(5, 7 * 24 * 60),
        }),
      ),
    ),
  );
  const note = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 200 })
    .filter((n) => n === n.trim() && n !== '' && [...n].length <= 200);
  const ruleSpec: fc.Arbitrary<RuleSpec> = fc
    .record(
      {
        base: fc.stringMatching(/^[A-Z][A-Z0-9]{0,7}$/),
        quote: fc.constantFrom('USDT', 'USDC', 'BTC', 'EUR', 'XYZ'),
        exchange: fc.constantFrom(...EXCHANGES),
        condition,
        repeat: fc.oneof(fc.constant({ kind: 'once' as const }), minutes(1, 30 * 24 * 60).map((cooldownSec) => ({ kind: 'every' as const, cooldownSec }))),
        expiresIn: fc.option(fc.integer({ min: 1, max: 365 * DAY * 1000 }), { nil: undefined }),
        note: fc.option(note, { nil: undefined }),
      },
      { requiredKeys: ['base', 'quote', 'exchange', 'condition', 'repeat'] },
    )
    .filter((r) => r.base !== r.quote)
    .map(({ base, quote, exchange, condition, repeat, expiresIn, note }) => ({
      pair: `${base}/${quote}`,
      exchange,
      // fc.record builds null-prototype objects, which toStrictEqual tells apart from the parser's
      condition: { ...condition },
      repeat: { ...repeat },
      ...(expiresIn === undefined ? {} : { expiresAt: new Date(NOW.getTime() + expiresIn) }),
      ...(note === undefined ? {} : { note }),
    }));

  it('parseAlert(formatRuleSpec(spec)) gives the spec back', () => {
    fc.assert(
      fc.property(ruleSpec, fc.boolean(), (s, omitDefault) => {
        const text = formatRuleSpec(s, omitDefault ? { defaultExchange: EXCHANGES[0] } : {});
        expect(parse(text)).toStrictEqual(s);
      }),
      { numRuns: 500 },
    );
  });

  const soup = fc
    .array(
      fc.oneof(
        fc.constantFrom(
          'btc', 'SOL/USDT', 'eth-btc', '>', '<', '>=', '=<', '=', 'above', 'below', 'crosses', 'up', 'down', 'moves',
          '5%', '-5%', '+3%', '0%', '%', '200', '1,00', '100k', '$', '0', '-1', '1e5', 'in', 'within', '1h', '30', 'm',
          '2m', '30s', 'every', 'once', 'for', 'until', '2026-12-31', '2020-01-01', '18:00', 'on', 'bybit', 'kraken',
          '--', '—', 'abov', 'evry', 'usdt', 'constructor', '__proto__', '',
        ),
        fc.string({ unit: 'binary', maxLength: 8 }),
      ),
      { maxLength: 10 },
    )
    .chain((words) => fc.constantFrom(' ', '', '  ').map((sep) => words.join(sep)));
  const garbage = fc.oneof(soup, fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 60 }));

  it('throws nothing but UserInputError, and every error example is a working command', () => {
    fc.assert(
      fc.property(garbage, (text) => {
        try {
          parse(text);
        } catch (err) {
          expect(err).toBeInstanceOf(UserInputError);
          const example = (err as UserInputError).example ?? '';
          expect(example.startsWith('/alert ')).toBe(true);
          expect(() => parse(example.slice('/alert '.length))).not.toThrow();
        }
      }),
      { numRuns: 2000 },
    );
  });
});
