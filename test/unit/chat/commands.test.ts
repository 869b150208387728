import { describe, expect, it } from 'vitest';
import { dispatchCommand, parseCommandLine, commandList } from '../../../src/chat/commands/index.js';
import type { ChatRef } from '../../../src/chat/commands/types.js';
import { renderReply } from '../../../src/chat/format.js';
import { MarketHub } from '../../../src/market/hub.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';
import { render } from '../../../src/i18n/index.js';

const log = createLogger('silent');
const chat: ChatRef = { platform: 'console', chatId: 'local', kind: 'private' };
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

function setup(exchanges = 'binance') {
  const config = loadConfig({ EXCHANGES: exchanges });
  const feeds = config.exchanges.map(
    (id) => new MemoryFeed(id, new Set(['BTC/USDT', 'ETH/USDT', 'ETH/BTC', 'SOL/USDT']), new Map([['ETH/USDT', 3456.789]]), () => NOW),
  );
  const hub = new MarketHub({ feeds, log, now: () => NOW });
  const say = async (text: string) => {
    const reply = await dispatchCommand(text, chat, { services: { hub, config, now: () => NOW }, log, botUsername: 'MaxFlashBot' });
    return reply && renderReply(reply, 'en');
  };
  return { say, feeds, hub };
}

describe('parseCommandLine', () => {
  it.each([
    ['/price ETH/USDT', { name: 'price', args: 'ETH/USDT' }],
    ['/PRICE@MaxFlashBot  eth ', { name: 'price', args: 'eth', mention: 'MaxFlashBot' }],
    ['/help', { name: 'help', args: '' }],
    ['  /price\nbtc', { name: 'price', args: 'btc' }],
    // invisible characters pasted along with a pair are dropped
    ['/price BTC\u200B/USDT', { name: 'price', args: 'BTC/USDT' }],
    ['\uFEFF/price \u202Aeth\u202C\u0000', { name: 'price', args: 'eth' }],
  ])('%j', (text, expected) => expect(parseCommandLine(text)).toEqual(expected));

  it.each(['price btc', '', '/', '//price', 'hello /price'])('%j is not a command', (text) => {
    expect(parseCommandLine(text)).toBeNull();
  });
});

describe('/price', () => {
  it('answers with last price, 24 h change, age and source, and keeps the pair streaming', async () => {
    const { say, feeds } = setup();
    const text = await say('/price ETH/USDT');
    expect(text).toBe('ETH/USDT on binance: 3,456.79 USDT  ▲ +1.50% 24h\nquote just now · REST snapshot; live stream starting');
    expect(feeds[0]!.added).toEqual(['ETH/USDT']);
  });

  it('answers from the live cache once the stream delivers', async () => {
    const { say, feeds } = setup();
    feeds[0]!.emit('ETH/USDT', 3500);
    expect(await say('/price eth')).toContain('3,500.00 USDT');
    expect(await say('/price eth')).toContain('live stream');
    expect(feeds[0]!.restCalls).toBe(0);
  });

  it.each([
    ['/price', 'Which pair? Add one after /price.\nExample: /price BTC/USDT'],
    ['/price 💩', '"💩" doesn\'t look like a trading pair. Write it as BASE/QUOTE.\nExample: /price BTC/USDT'],
    ['/price ETH/USDC', 'ETH/USDC is not traded on binance. Did you mean ETH/USDT, ETH/BTC, BTC/USDT?\nExample: /price ETH/USDT'],
    ['/price btc eth sol', '/price takes one pair, got "btc eth sol".\nExample: /price BTC/USDT'],
    ['/price BTC on kraken', 'kraken is not enabled on this bot. Enabled: binance.\nExample: /price ETH/USDT'],
  ])('%j → friendly one-line error with an example', async (input, expected) => {
    const { say } = setup();
    expect(await say(input)).toBe(expected);
  });

  it('takes "on <exchange>" when several are enabled', async () => {
    const { say, feeds } = setup('binance,okx');
    expect(await say('/price SOL on okx')).toMatch(/^SOL\/USDT on okx: /);
    expect(feeds[1]!.added).toEqual(['SOL/USDT']);
  });

  it('says the exchange is unreachable instead of failing', async () => {
    const { say, feeds } = setup();
    feeds[0]!.failRest = new Error('connect ECONNREFUSED 127.0.0.1:1');
    expect(await say('/price BTC/USDT')).toBe("Can't reach binance right now; prices will be back as soon as it is. Try again in a minute.");
  });
});

describe('dispatch', () => {
  it('lists every command in /help, and explains one with /help <command>', async () => {
    const { say } = setup();
    const help = (await say('/help'))!;
    for (const c of commandList()) expect(help).toContain(render('en', { key: c.usage }));
    expect(await say('/help price')).toContain('Examples:\n  /price BTC/USDT');
  });

  it('suggests the closest command for a typo and ignores commands for other bots', async () => {
    const { say } = setup();
    expect(await say('/prcie btc')).toBe('Unknown command /prcie. Did you mean /price? /help lists them all.');
    expect(await say('/price@OtherBot btc')).toBeNull();
    expect(await say('hello')).toContain('Commands start with a slash');
  });

  it('refuses over-long input without parsing it', async () => {
    const { say } = setup();
    expect(await say(`/price ${'x'.repeat(5000)}`)).toMatch(/too long/);
  });
});
