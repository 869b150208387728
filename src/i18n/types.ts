/**
 * The shapes of a message catalogue, at the type level. A message is a string with `{name}` placeholders,
 * or, when it counts something, one string per plural category (Intl.PluralRules) with a `{count}`.
 * English is the reference: its keys and placeholders define what every other catalogue must have.
 */

/** Plural forms by CLDR category; which ones a language needs is Intl.PluralRules' answer for it. */
export interface PluralForms {
  readonly zero?: string;
  readonly one?: string;
  readonly two?: string;
  readonly few?: string;
  readonly many?: string;
  readonly other: string;
}

export type Entry = string | PluralForms;

/** "{pair} on {exchange}" → "pair" | "exchange" */
export type Placeholders<S> = S extends `${string}{${infer P}}${infer Rest}` ? P | Placeholders<Rest> : never;

/** Placeholders of an entry; a plural entry always takes `count`, which picks the form. */
export type EntryPlaceholders<E> = E extends string ? Placeholders<E> : E extends PluralForms ? Placeholders<E[keyof E]> | 'count' : never;

/** true when two placeholder unions are the same set */
export type SameSet<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
