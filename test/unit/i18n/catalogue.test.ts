import { describe, expect, it } from 'vitest';
import { CATALOGUES, formatDurationIn, LANGUAGES, parseLanguage, render, resolveLanguage, t } from '../../../src/i18n/index.js';
import type { Entry } from '../../../src/i18n/types.js';

/**
 * The compiler already refuses a Russian catalogue with a missing key, a missing plural form or other
 * placeholders (src/i18n/ru.ts); this checks the same at run time, for every language, against
 * Intl.PluralRules' own list of the forms each language needs.
 */

const placeholders = (entry: Entry): string[] => {
  const texts = typeof entry === 'string' ? [entry] : Object.values(entry);
  const names = new Set(texts.flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!)));
  if (typeof entry !== 'string') names.add('count');
  return [...names].sort();
};

describe('catalogues', () => {
  const en = CATALOGUES.en;
  const keys = Object.keys(en).sort();

  it.each(LANGUAGES.filter((l) => l !== 'en'))('%s has exactly the English keys', (lang) => {
    expect(Object.keys(CATALOGUES[lang]).sort()).toEqual(keys);
  });

  it.each(LANGUAGES)('%s: every message uses the same placeholders as English', (lang) => {
    const catalogue = CATALOGUES[lang];
    const mismatched = keys.filter((k) => JSON.stringify(placeholders(catalogue[k as keyof typeof en])) !== JSON.stringify(placeholders(en[k as keyof typeof en])));
    expect(mismatched).toEqual([]);
  });

  it.each(LANGUAGES)('%s: counted messages have every plural form the language needs, and nothing is blank', (lang) => {
    const needed = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    for (const [key, entry] of Object.entries(CATALOGUES[lang])) {
      if (typeof entry === 'string') {
        if (key !== 'unit.separator') expect(entry.trim(), key).not.toBe('');
        continue;
      }
      expect(Object.keys(entry).sort(), key).toEqual([...needed].sort());
      // "one" may say "a delivery" in English, but every other form shows the number
      expect(entry.other, key).toContain('{count}');
    }
  });

  it('has the two languages with a plural-aware message for counts', () => {
    expect(LANGUAGES).toEqual(['en', 'ru']);
    expect(keys.length).toBeGreaterThan(200);
  });
});

describe('rendering', () => {
  it('fills placeholders, and renders nested messages in the same language', () => {
    expect(t('en', 'pair.notTraded', { pair: 'ETH/USDC', exchange: 'binance' })).toBe('ETH/USDC is not traded on binance.');
    expect(t('ru', 'pair.notTraded', { pair: 'ETH/USDC', exchange: 'binance' })).toBe('ETH/USDC не торгуется на binance.');
    expect(render('ru', { key: 'reply.example', params: { example: '/price BTC' } })).toBe('Пример: /price BTC');
  });

  it.each([
    [1, 'Удалён 1 алерт этого чата.', 'Deleted the only alert of this chat.'],
    [2, 'Удалены все 2 алерта этого чата.', 'Deleted all 2 alerts of this chat.'],
    [3, 'Удалены все 3 алерта этого чата.', 'Deleted all 3 alerts of this chat.'],
    [5, 'Удалены все 5 алертов этого чата.', 'Deleted all 5 alerts of this chat.'],
    [11, 'Удалены все 11 алертов этого чата.', 'Deleted all 11 alerts of this chat.'],
    [21, 'Удалён 21 алерт этого чата.', 'Deleted all 21 alerts of this chat.'],
    [24, 'Удалены все 24 алерта этого чата.', 'Deleted all 24 alerts of this chat.'],
    [100, 'Удалены все 100 алертов этого чата.', 'Deleted all 100 alerts of this chat.'],
  ])('counts %d alerts in both languages', (count, ru, en) => {
    expect(t('ru', 'alerts.deletedAll', { count })).toBe(ru);
    expect(t('en', 'alerts.deletedAll', { count })).toBe(en);
  });

  it('words durations per language, keeping the typed form in English', () => {
    expect(formatDurationIn('en', 5400)).toBe('1h30m');
    expect(formatDurationIn('ru', 5400)).toBe('1 ч 30 мин');
    expect(formatDurationIn('ru', 7 * 86_400)).toBe('7 д');
    expect(formatDurationIn('ru', 0)).toBe('0 мин');
  });
});

describe('choosing the language', () => {
  it.each([
    [null, 'private', 'ru', 'ru'],
    [null, 'private', 'ru-RU', 'ru'],
    [null, 'private', 'RU', 'ru'],
    [null, 'private', 'en-GB', 'en'],
    [null, 'private', 'uk', 'en'],
    [null, 'private', undefined, 'en'],
    [null, 'private', 'rus', 'en'], // not a Telegram code; "ru" must be a whole subtag
    [null, 'group', 'ru', 'en'],
    [null, 'channel', 'ru', 'en'],
    ['en', 'private', 'ru', 'en'],
    ['ru', 'group', 'en', 'ru'],
    ['xx', 'private', 'ru', 'ru'], // an unreadable stored value falls through to the hint
  ] as const)('stored %s in a %s chat, client %s → %s', (stored, kind, client, expected) => {
    expect(resolveLanguage(stored, kind, client)).toBe(expected);
  });

  it.each([
    ['ru', 'ru'], ['RU', 'ru'], ['русский', 'ru'], ['Русский', 'ru'], ['russian', 'ru'],
    ['en', 'en'], ['English', 'en'], ['английский', 'en'],
    ['de', null], ['', null],
  ] as const)('/language %j → %s', (input, expected) => expect(parseLanguage(input)).toBe(expected));
});
