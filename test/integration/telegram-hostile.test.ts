import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/client.js';
import { createLogger } from '../../src/log.js';
import { engines } from '../helpers/db.js';
import { startTelegramStack, type TelegramStack } from '../helpers/telegram-stack.js';
import { privateChat, tgUser, type FakeTelegram, type SentMessage } from '../fakes/telegram.js';

/**
 * Thirty hostile inputs through the real grammY client and the real database: each gets a short,
 * plain answer or silence — never a stack trace, an echo of a huge input, or a rule it should not have
 * made — and after each one the bot still answers /price. Checks hold in any reply language.
 */

const logLines: string[] = [];
const log = createLogger('debug', { write: (line: string) => void logLines.push(line) });

/** what must never reach a user: stack frames, source paths, JS values leaking into text */
const LEAKS = /\bat \S+ \(|\bat file:|node_modules|\.[jt]s:\d+|\bundefined\b|\bNaN\b|\[object |Prisma|TypeError|ReferenceError|SyntaxError|\bnull\b/;
/** no hostile reply needs more than this; /help is the longest answer and is not among them */
const MAX_REPLY = 700;

/** the user's own words quoted back ("NaN" isn't a price…) are not a leak */
function withoutEcho(answer: string, input: string): string {
  return input.split(/\s+/).filter((w) => w.length > 0).reduce((rest, word) => rest.split(word).join(' '), answer);
}

const HOSTILE_MESSAGES: ReadonlyArray<readonly [label: string, text: string]> = [
  ['a 5 000-character plain message', 'A'.repeat(5_000)],
  ['a command with 4 000 characters of arguments', `/price ${'X'.repeat(4_000)}`],
  ['an alert with 900 characters of pair', `/alert ${'B'.repeat(900)} > 1`],
  ['a threshold past double range', '/alert BTC/USDT > 1e309'],
  ['a negative threshold', '/alert BTC/USDT > -5'],
  ['NaN as a threshold', '/alert BTC/USDT > NaN'],
  ['Infinity as a threshold', '/alert BTC/USDT > Infinity'],
  ['a 41-digit threshold', `/alert BTC/USDT > ${'9'.repeat(41)}`],
  ['a threshold with 22 decimals', '/alert BTC/USDT > 0.0000000000000000000001'],
  ['SQL injection in the pair', "/alert '; DROP TABLE alert_rules; -- > 1"],
  ['HTML in a price request', '/price <script>alert(1)</script>'],
  ['Markdown and a link in a price request', '/price *bold* _it_ [x](http://evil.example)'],
  ['an id beyond any integer', '/delete 99999999999999999999'],
  ['a negative id', '/delete -1'],
  ['a path as an id', '/delete ../../etc/passwd'],
  ['a watch move of 1000%', '/watch BTC/USDT 1000%'],
  ['an emoji as a coin', '/watch 💩/USDT'],
  ['a NUL byte in a pair', '/price \u0000BTC'],
  ['a right-to-left override in a pair', '/price \u202Eusdt/btc'],
  ['a zero-width space in a pair', '/price BTC\u200B/USDT'],
  ['a lone slash', '/'],
  ['a slash, a space, a command', '/ alert BTC > 1'],
  ['an alert with nothing after it', '/alert'],
  ['an unknown command', '/rm_rf_everything now'],
  ['a timezone that does not exist', '/timezone Mars/Olympus_Mons'],
  ['a webhook to this machine', '/webhook http://127.0.0.1:8080/admin'],
  ['a javascript: webhook', '/webhook javascript:alert(1)'],
  ['a zero repeat interval', '/alert BTC/USDT > 100 every 0s'],
  ['an expiry a lifetime away', '/alert BTC/USDT > 100 for 99999d'],
  ['only emoji', '🚀🚀🚀🌕'],
];

/** button data a client can forge: the bot must answer each and change nothing */
const FORGED_BUTTONS: readonly string[] = ['del:1:list', 'rearm:999999999', 'snooze:1:99999999', "'; DROP TABLE chats; --", 'x'.repeat(64)];

describe.each(engines)('Telegram front against hostile input on $name', (engine) => {
  let stack: TelegramStack;
  let db: Database;
  let fake: FakeTelegram;
  const mallory = tgUser(6661, 'Mallory', 'mallory');
  const chat = privateChat(mallory);

  beforeAll(async () => {
    stack = await startTelegramStack(engine, { log, prices: new Map([['BTC/USDT', 100_000], ['ETH/USDT', 3_000]]) });
    ({ db, fake } = stack);
  });

  afterAll(() => stack?.close());

  const fromBot = (m: SentMessage) => m.chat_id === String(chat.id);
  // no hostile input names ETH, so only the probe is answered with its price
  const probeAnswered = (m: SentMessage) => fromBot(m) && /^ETH\/USDT\b.*3,000\.00/.test(m.text);

  /**
   * Sends `text` and then a /price probe; updates are handled in order, so whatever the bot said
   * between the two is its whole answer to `text`, and the probe's answer shows it is still serving.
   */
  async function answersTo(text: string): Promise<string[]> {
    const before = fake.sent().length;
    fake.userSays(chat, mallory, text);
    fake.userSays(chat, mallory, '/price ETH/USDT');
    const probe = await fake.waitForSent((m) => fake.sent().indexOf(m) >= before && probeAnswered(m));
    return fake.sent().slice(before, fake.sent().indexOf(probe)).filter(fromBot).map((m) => m.text);
  }

  it('answers each hostile message briefly or not at all, and keeps serving', async () => {
    const verdicts: string[] = [];
    for (const [label, text] of HOSTILE_MESSAGES) {
      const answers = await answersTo(text);
      expect(answers.length, label).toBeLessThanOrEqual(1);
      for (const answer of answers) {
        expect(withoutEcho(answer, text), label).not.toMatch(LEAKS);
        expect(answer.length, label).toBeLessThanOrEqual(MAX_REPLY);
        expect(answer.length, label).toBeGreaterThan(0);
        // long inputs are summarised, never echoed back whole
        expect(answer.includes('X'.repeat(60)) || answer.includes('A'.repeat(60)) || answer.includes('B'.repeat(60)), label).toBe(false);
      }
      verdicts.push(`${label}: ${answers[0]?.split('\n')[0]?.slice(0, 90) ?? '(silence)'}`);
    }
    expect(verdicts).toHaveLength(30);
    console.log(`[hostile input]\n  ${verdicts.join('\n  ')}`);

    // none of it became a rule, a watch or a webhook, and nothing was logged as a failure of ours
    const row = await db.prisma.chat.findUnique({ where: { platform_externalId: { platform: 'telegram', externalId: String(chat.id) } }, include: { rules: true, watches: true, webhook: true } });
    expect(row?.rules ?? []).toEqual([]);
    expect(row?.watches ?? []).toEqual([]);
    expect(row?.webhook ?? null).toBeNull();
    expect(logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });

  it('answers forged button data without changing anything', async () => {
    for (const data of FORGED_BUTTONS) {
      const update = fake.callback(chat, mallory, data);
      const answer = await fake.waitForCall('answerCallbackQuery', (c) => c.payload['callback_query_id'] === update.callback_query!.id);
      const text = answer.payload['text'];
      if (typeof text === 'string') {
        expect(text, data).not.toMatch(LEAKS);
        expect(text.length, data).toBeLessThanOrEqual(200);
      }
    }
    expect(await answersTo('/alerts')).toHaveLength(1);
    expect(await db.prisma.alertRule.count()).toBe(0);
    expect(logLines.filter((l) => JSON.parse(l).level >= 50)).toEqual([]);
  });
});
