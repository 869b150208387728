import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { editDistance, normalisePair, suggestPairs } from '../../../src/market/symbols.js';
import { UserInputError } from '../../../src/errors.js';

describe('normalisePair', () => {
  it.each([
    ['btc/usdt', 'BTC/USDT'],
    ['BTC-USDT', 'BTC/USDT'],
    ['btcusdt', 'BTC/USDT'],
    ['BTC_USDT', 'BTC/USDT'],
    ['  eth / usdt ', 'ETH/USDT'],
    ['eth usdt', 'ETH/USDT'],
    ['btc', 'BTC/USDT'],
    ['ETHBTC', 'ETH/BTC'],
    ['btcfdusd', 'BTC/FDUSD'],
    ['solusdc', 'SOL/USDC'],
    ['1000sats/usdt', '1000SATS/USDT'],
    ['xrp:usdt', 'XRP/USDT'],
  ])('%s → %s', (input, expected) => {
    expect(normalisePair(input, 'USDT')).toBe(expected);
  });

  it('uses the configured default quote for a bare symbol', () => {
    expect(normalisePair('sol', 'USDC')).toBe('SOL/USDC');
  });

  it.each(['', '   ', 'btc/usdt/eth', '💩', 'btc/', 'usdt/usdt', 'a'.repeat(40), 'drop table;', 'BTC$/USDT'])(
    'rejects %j with a friendly UserInputError carrying an example',
    (input) => {
      try {
        normalisePair(input, 'USDT');
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(UserInputError);
        expect((err as UserInputError).example).toMatch(/^\/price /);
        expect((err as Error).message.length).toBeLessThan(120);
      }
    },
  );

  it('is idempotent and separator-insensitive (property)', () => {
    const asset = fc.stringMatching(/^[A-Z][A-Z0-9]{1,7}$/);
    fc.assert(
      fc.property(asset, asset, fc.constantFrom('/', '-', '_', ' ', ':'), fc.boolean(), (base, quote, sep, lower) => {
        fc.pre(base !== quote);
        const typed = `${base}${sep}${quote}`;
        const pair = normalisePair(lower ? typed.toLowerCase() : typed, 'USDT');
        expect(pair).toBe(`${base}/${quote}`);
        expect(normalisePair(pair, 'USDT')).toBe(pair);
      }),
    );
  });
});

describe('suggestPairs', () => {
  const listed = ['BTC/USDT', 'ETH/USDT', 'ADA/USDT', 'LTC/USDT', 'XRP/USDT', 'DOGE/USDT', 'TRX/USDT', 'ETH/BTC'];

  it('offers the closest listed pairs, same base first', () => {
    expect(suggestPairs('ETH/USDC', listed)).toEqual(['ETH/USDT', 'ETH/BTC', 'BTC/USDT']);
    expect(suggestPairs('DOG/USDT', listed)[0]).toBe('DOGE/USDT');
  });

  it('returns at most the limit, and nothing from an empty market', () => {
    expect(suggestPairs('X/Y', listed, 2)).toHaveLength(2);
    expect(suggestPairs('X/Y', [])).toEqual([]);
  });
});

describe('editDistance', () => {
  it('is a metric on small strings (property)', () => {
    const s = fc.string({ maxLength: 8 });
    fc.assert(
      fc.property(s, s, s, (a, b, c) => {
        expect(editDistance(a, a)).toBe(0);
        expect(editDistance(a, b)).toBe(editDistance(b, a));
        expect(editDistance(a, c)).toBeLessThanOrEqual(editDistance(a, b) + editDistance(b, c));
      }),
    );
  });
});
