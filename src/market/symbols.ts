import { UserInputError } from '../errors.js';
import { msg } from '../i18n/index.js';

/**
 * Quote currencies recognised when a pair is typed without a separator ("btcusdt"). Longest first so
 * "FDUSD" wins over "USD" and "USDT" over "USD".
 */
const KNOWN_QUOTES = [
  'FDUSD', 'USDT', 'USDC', 'BUSD', 'TUSD', 'USDE', 'EURI', 'DAI', 'USD', 'EUR', 'GBP', 'TRY', 'BRL', 'JPY',
  'BTC', 'ETH', 'BNB', 'SOL',
].sort((a, b) => b.length - a.length);

const ASSET = /^[A-Z0-9]{1,20}$/;
const EXAMPLE = '/price BTC/USDT';

/**
 * "btc/usdt", "BTC-USDT", "btc_usdt", "BTC USDT", "btcusdt" and a bare "btc" (with `defaultQuote`) all
 * become "BTC/USDT". Throws UserInputError with a chat-safe message for anything that is not a pair.
 * Whether the pair is listed on an exchange is checked later, against that exchange's markets.
 */
export function normalisePair(input: string, defaultQuote: string): string {
  const raw = input.trim().toUpperCase();
  if (raw === '') throw new UserInputError(msg('pair.which'), EXAMPLE);
  if (raw.length > 30) throw new UserInputError(msg('pair.tooLong', { input: input.trim().slice(0, 30) }), EXAMPLE);

  const parts = raw.split(/\s*[/\-_:]\s*|\s+/);
  let base: string | undefined;
  let quote: string | undefined;
  if (parts.length === 2) {
    [base, quote] = parts;
  } else if (parts.length === 1) {
    const joined = parts[0]!;
    const suffix = KNOWN_QUOTES.find((q) => joined.length > q.length && joined.endsWith(q));
    if (suffix) {
      base = joined.slice(0, -suffix.length);
      quote = suffix;
    } else {
      base = joined;
      quote = defaultQuote;
    }
  }
  if (base === undefined || quote === undefined || !ASSET.test(base) || !ASSET.test(quote)) {
    throw new UserInputError(msg('pair.bad', { input: input.trim() }), EXAMPLE);
  }
  if (base === quote) throw new UserInputError(msg('pair.same', { pair: `${base}/${quote}` }), EXAMPLE);
  return `${base}/${quote}`;
}

/** Edit distance, for "did you mean" suggestions; inputs are short pair names so O(n·m) is fine. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      prev[j] = Math.min(above + 1, prev[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return prev[b.length]!;
}

/**
 * The `limit` listed pairs closest to an unlisted one. Pairs sharing the base or quote rank first, so
 * "BTC/USDX" suggests BTC pairs rather than whatever happens to be three letters away.
 */
export function suggestPairs(pair: string, listed: Iterable<string>, limit = 3): string[] {
  const [base = '', quote = ''] = pair.split('/');
  const scored: Array<{ p: string; score: number }> = [];
  for (const p of listed) {
    const [b = '', q = ''] = p.split('/');
    let score = editDistance(pair, p);
    if (b === base) score -= 2;
    if (q === quote) score -= 1;
    scored.push({ p, score });
  }
  scored.sort((x, y) => x.score - y.score || x.p.localeCompare(y.p));
  return scored.slice(0, limit).map((s) => s.p);
}
