/**
 * The quantities of the alert grammar, read and written: decimals, durations and dates. Prices stay decimal strings
 * end to end (see types.ts), so "1.5m" is shifted as digits and never multiplied as a float.
 */

export type DecimalRead = { ok: true; value: string } | { ok: false; problem: 'nan' | 'grouping' };

/** int part (with one kind of separator), fraction, magnitude suffix */
const DECIMAL = /^(\d+(?:([,_])\d+(?:\2\d+)*)?)?(?:\.(\d*))?([kmb])?$/i;
/** digits and separators that failed DECIMAL: a grouping mistake ("1,00", "1.000.000"), not a word */
const NUMERIC_ISH = /^[\d,_.]*\d[\d,_.]*[kmb]?$/i;
const SHIFT = new Map([['k', 3], ['m', 6], ['b', 9]]);

/**
 * "200", "$200", "1,000.50", "1_000", "100K", "1.5m", ".5" → canonical decimal ("1000.5", "1500000", "0.5"):
 * no sign, no leading or trailing zeros. `money` allows the "$" prefix and the k/m/b suffixes.
 */
export function readDecimal(raw: string, money: boolean): DecimalRead {
  const text = money && raw.startsWith('$') ? raw.slice(1) : raw;
  const m = DECIMAL.exec(text);
  if (!m || (m[1] === undefined && !m[3]) || (!money && m[4] !== undefined)) {
    return { ok: false, problem: NUMERIC_ISH.test(text) && (money || !/[kmb]$/i.test(text)) ? 'grouping' : 'nan' };
  }
  const int = m[1] ?? '';
  if (m[2] !== undefined) {
    const groups = int.split(m[2]);
    // "1,00" is a typo for 1,000 or 1.00; guessing which would alert at a price nobody asked for
    if (groups[0]!.length > 3 || groups.slice(1).some((g) => g.length !== 3)) return { ok: false, problem: 'grouping' };
  }
  const shift = m[4] === undefined ? 0 : SHIFT.get(m[4].toLowerCase())!;
  const frac = (m[3] ?? '').padEnd(shift, '0');
  return { ok: true, value: canonical(int.replace(/[,_]/g, '') + frac.slice(0, shift), frac.slice(shift)) };
}

function canonical(int: string, frac: string): string {
  const i = int.replace(/^0+/, '') || '0';
  const f = frac.replace(/0+$/, '');
  return f ? `${i}.${f}` : i;
}

/** Compares two canonical decimals exactly (-1, 0, 1). */
export function compareDecimal(a: string, b: string): number {
  const [ai = '', af = ''] = a.split('.');
  const [bi = '', bf = ''] = b.split('.');
  if (ai.length !== bi.length) return ai.length < bi.length ? -1 : 1;
  if (ai !== bi) return ai < bi ? -1 : 1;
  const width = Math.max(af.length, bf.length);
  const x = af.padEnd(width, '0');
  const y = bf.padEnd(width, '0');
  return x === y ? 0 : x < y ? -1 : 1;
}

export function decimalPlaces(value: string): number {
  return value.split('.')[1]?.length ?? 0;
}

// a Map, so a "unit" like "constructor" finds nothing rather than Object.prototype's
const UNIT_SEC = new Map<string, number>();
for (const [sec, names] of [
  [60, ['m', 'min', 'mins', 'minute', 'minutes']],
  [3600, ['h', 'hr', 'hrs', 'hour', 'hours']],
  [86_400, ['d', 'day', 'days']],
  [604_800, ['w', 'wk', 'week', 'weeks']],
] as const) {
  for (const name of names) UNIT_SEC.set(name, sec);
}

export type DurationRead = { ok: true; sec: number; used: number } | { ok: false; problem: 'nan' | 'unit' | 'no_unit' };

/**
 * "30m", "1h30m", "2d", or a number and a unit word as two tokens ("30 minutes"); `used` says how many
 * tokens it took. Seconds are not a unit on purpose: nothing in the grammar is that short.
 */
export function readDuration(token: string, next: string | undefined): DurationRead {
  const t = token.toLowerCase();
  if (/^\d+$/.test(t)) {
    const unit = next === undefined ? undefined : UNIT_SEC.get(next.toLowerCase());
    return unit === undefined ? { ok: false, problem: 'no_unit' } : { ok: true, sec: Number(t) * unit, used: 2 };
  }
  if (!/^(?:\d+[a-z]+)+$/.test(t)) return { ok: false, problem: 'nan' };
  let sec = 0;
  for (const [, n, unit] of t.matchAll(/(\d+)([a-z]+)/g)) {
    const size = UNIT_SEC.get(unit!);
    if (size === undefined) return { ok: false, problem: 'unit' };
    sec += Number(n) * size;
  }
  return { ok: true, sec, used: 1 };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})(?:t(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?z?)?$/i;
const TIME = /^(\d{2}):(\d{2})z?$/i;

/**
 * "2026-12-31" (the end of that day, UTC), "2026-12-31T18:00Z", a full ISO instant, or a date and an
 * "18:00" token. Times are always UTC: a chat has no reliable time zone.
 */
export function readDate(token: string, next: string | undefined): { ok: true; ms: number; used: number } | { ok: false } {
  const d = DATE.exec(token);
  if (!d) return { ok: false };
  const time = d[4] === undefined && next !== undefined ? TIME.exec(next) : null;
  const [h, min] = time ? [time[1], time[2]] : [d[4], d[5]];
  const [y, mo, day] = [Number(d[1]), Number(d[2]) - 1, Number(d[3])];
  const [hh, mm, ss, milli] =
    h === undefined ? [23, 59, 59, 999] : [Number(h), Number(min), Number(d[6] ?? 0), Number((d[7] ?? '').padEnd(3, '0'))];
  const ms = Date.UTC(y, mo, day, hh, mm, ss, milli);
  const at = new Date(ms);
  // Date.UTC rolls "02-30" or "25:00" over into the next month or day instead of refusing them
  const exact =
    at.getUTCFullYear() === y && at.getUTCMonth() === mo && at.getUTCDate() === day &&
    at.getUTCHours() === hh && at.getUTCMinutes() === mm && at.getUTCSeconds() === ss;
  return exact && y >= 1970 ? { ok: true, ms, used: time ? 2 : 1 } : { ok: false };
}

/** The shortest `until` argument that reads back as exactly this instant. */
export function formatInstant(at: Date): string {
  const iso = at.toISOString();
  if (iso.endsWith('T23:59:59.999Z')) return iso.slice(0, 10);
  return iso.endsWith(':00.000Z') ? `${iso.slice(0, 16)}Z` : iso;
}

/** "100000.5" → "100,000.5", for replies; the stored value stays ungrouped. */
export function groupDigits(value: string): string {
  const [int = '', frac] = value.split('.');
  const grouped = int.replace(/\B(?=(\d{3})+$)/g, ',');
  return frac === undefined ? grouped : `${grouped}.${frac}`;
}

/** 1800 → "30m", 5400 → "1h30m", 604800 → "7d"; seconds only when there are some. */
export function formatDuration(sec: number): string {
  const units: Array<[number, string]> = [[86_400, 'd'], [3600, 'h'], [60, 'm'], [1, 's']];
  let left = Math.max(0, Math.floor(sec));
  let out = '';
  for (const [size, name] of units) {
    if (left >= size) out += `${Math.floor(left / size)}${name}`;
    left %= size;
  }
  return out || '0m';
}
