/**
 * Languages of the bot's texts (pure). Everything a user reads is a catalogue key plus parameters,
 * rendered here in one language. It sits beside errors.ts rather than under chat/ because the pure
 * alerts and market modules throw UserInputErrors that carry keys, and they must not import the chat layer.
 */
import { en, type En, type MessageKey } from './en.js';
import { ru } from './ru.js';
import type { Entry, EntryPlaceholders, PluralForms } from './types.js';

export type { MessageKey } from './en.js';

export const LANGUAGES = ['en', 'ru'] as const;
export type Lang = (typeof LANGUAGES)[number];

export const CATALOGUES: Readonly<Record<Lang, Readonly<Record<MessageKey, Entry>>>> = { en, ru };

/** A parameter is plain text (prices, pairs, ids: never translated) or another message, rendered alike. */
export type Param = string | number | Text;

export type Params<K extends MessageKey> = { readonly [P in EntryPlaceholders<En[K]>]: Param };

/** The trailing params argument: required when the message has placeholders, absent when it has none. */
export type ParamArgs<K extends MessageKey> = [EntryPlaceholders<En[K]>] extends [never] ? [] : [params: Params<K>];

/** A message not yet rendered: what replies and errors carry until a chat's language is known. */
export interface Text {
  readonly key: MessageKey;
  readonly params?: Readonly<Record<string, Param>>;
}

/** Builds a Text, checking the key's placeholders at compile time. */
export function msg<K extends MessageKey>(key: K, ...params: ParamArgs<K>): Text {
  const [p] = params;
  return p === undefined ? { key } : { key, params: p as Readonly<Record<string, Param>> };
}

const pluralRules = new Map<Lang, Intl.PluralRules>(LANGUAGES.map((l) => [l, new Intl.PluralRules(l)]));

/** Renders one message in a language. */
export function t<K extends MessageKey>(lang: Lang, key: K, ...params: ParamArgs<K>): string {
  return render(lang, msg(key, ...params));
}

/** Renders a Text in a language; nested Text parameters are rendered in the same language. */
export function render(lang: Lang, text: Text): string {
  const entry = CATALOGUES[lang][text.key];
  const params = text.params ?? {};
  const template = typeof entry === 'string' ? entry : pluralForm(lang, entry, params['count']);
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    if (value === undefined) return whole; // a catalogue bug shows as "{name}" rather than a crash in chat
    return typeof value === 'object' ? render(lang, value) : String(value);
  });
}

function pluralForm(lang: Lang, forms: PluralForms, count: Param | undefined): string {
  const n = typeof count === 'number' ? count : Number(count);
  const category = Number.isFinite(n) ? pluralRules.get(lang)!.select(n) : 'other';
  return forms[category] ?? forms.other;
}

/** "ru", "RU", "русский" → 'ru'; null for anything else. */
export function parseLanguage(input: string): Lang | null {
  const w = input.trim().toLowerCase();
  if (['en', 'eng', 'english', 'английский', 'англ'].includes(w)) return 'en';
  if (['ru', 'rus', 'russian', 'русский', 'рус'].includes(w)) return 'ru';
  return null;
}

/**
 * The language to answer a chat in: its stored choice (/language) if any; else, in a private chat, the
 * user's client language (Telegram's language_code: "ru", "ru-RU" → ru, anything else → en); else en.
 * A group's members may speak different languages, so only an explicit choice changes a group's.
 */
export function resolveLanguage(stored: string | null | undefined, kind: 'private' | 'group' | 'channel', userLanguage?: string | null): Lang {
  const chosen = stored ? parseLanguage(stored) : null;
  if (chosen) return chosen;
  if (kind === 'private' && userLanguage && /^ru\b/i.test(userLanguage)) return 'ru';
  return 'en';
}

const DURATION_UNITS = [
  [86_400, 'unit.d'],
  [3600, 'unit.h'],
  [60, 'unit.m'],
  [1, 'unit.s'],
] as const;

/** 5400 → "1h30m" (en, the form commands take) or "1 ч 30 мин" (ru). */
export function formatDurationIn(lang: Lang, sec: number): string {
  let left = Math.max(0, Math.floor(sec));
  const parts: string[] = [];
  for (const [size, key] of DURATION_UNITS) {
    if (left >= size) parts.push(t(lang, key, { n: Math.floor(left / size) }));
    left %= size;
  }
  return parts.length ? parts.join(t(lang, 'unit.separator')) : t(lang, 'unit.m', { n: 0 });
}
