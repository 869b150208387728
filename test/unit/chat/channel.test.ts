import { describe, expect, it } from 'vitest';
import { parseHandle, takeTarget } from '../../../src/chat/commands/channel.js';
import { dispatchCommand } from '../../../src/chat/commands/index.js';
import type { ChatRef } from '../../../src/chat/commands/types.js';
import { renderReply } from '../../../src/chat/format.js';
import { UserInputError } from '../../../src/errors.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { MarketHub } from '../../../src/market/hub.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';

describe('parseHandle', () => {
  it.each([
    ['@SignalsDaily', '@SignalsDaily'],
    ['signals_daily', '@signals_daily'],
    ['t.me/signals_daily', '@signals_daily'],
    ['https://t.me/signals_daily/', '@signals_daily'],
  ])('%j → %j', (input, handle) => expect(parseHandle(input)).toBe(handle));

  it.each(['@abc', '@1signals', '@sig-nals', '', '@', `@${'a'.repeat(33)}`, 'https://t.me/+invite'])('%j is no username', (input) => {
    expect(parseHandle(input)).toBeNull();
  });

  it('insists on the @ where a bare word could be something else', () => {
    expect(parseHandle('signals', { requireAt: true })).toBeNull();
    expect(parseHandle('@signals', { requireAt: true })).toBe('@signals');
  });
});

describe('takeTarget', () => {
  const take = (args: string) => takeTarget(args, '/alert SOL/USDT > 200');

  it.each([
    ['SOL/USDT > 200 to @signals', 'SOL/USDT > 200'],
    ['SOL/USDT > 200 to @signals every 1h on okx', 'SOL/USDT > 200 every 1h on okx'],
    ['SOL/USDT > 200 every 1h TO @signals for 7d', 'SOL/USDT > 200 every 1h for 7d'],
    ['to @signals SOL/USDT > 200', 'SOL/USDT > 200'],
    ['SOL/USDT > 200 to @signals -- take profit', 'SOL/USDT > 200 -- take profit'],
    ['BTC/USDT 5% to @signals', 'BTC/USDT 5%'],
    ['to @signals', ''],
  ])('%j → rest %j, target @signals', (args, rest) => expect(take(args)).toEqual({ rest, target: '@signals' }));

  it('never searches the note: "to @x" after -- or — is the user\'s text', () => {
    expect(take('SOL/USDT > 200 -- sell to @bob')).toEqual({ rest: 'SOL/USDT > 200 -- sell to @bob' });
    expect(take('SOL/USDT > 200 — send to @bob')).toEqual({ rest: 'SOL/USDT > 200 — send to @bob' });
    expect(take('SOL/USDT > 200 to @signals -- then to @bob')).toEqual({ rest: 'SOL/USDT > 200 -- then to @bob', target: '@signals' });
  });

  it('leaves arguments without a target as they are (trimmed)', () => {
    expect(take('  SOL/USDT > 200 every 1h  ')).toEqual({ rest: 'SOL/USDT > 200 every 1h' });
    expect(take('TOKEN/USDT > 1')).toEqual({ rest: 'TOKEN/USDT > 1' }); // "to" inside a word is no target
  });

  it.each([
    ['SOL/USDT > 200 to signals', /"to" takes a channel's @username, e\.g\. to @yourchannel; "signals" is not one\./],
    ['SOL/USDT > 200 to @x', /"@x" is not one/],
    ['SOL/USDT > 200 to @one to @two', /Name one channel: a single "to @name"\./],
  ])('%j is refused with a fix', (args, message) => {
    const err = (() => {
      try {
        take(args);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(UserInputError);
    expect((err as UserInputError).message).toMatch(message);
    expect((err as UserInputError).example).toBe('/alert SOL/USDT > 200 to @yourchannel');
  });
});

describe('/channel and "to @name" where there are no channels', () => {
  const log = createLogger('silent');
  const config = loadConfig({ EXCHANGES: 'binance' });
  const hub = new MarketHub({ feeds: [new MemoryFeed('binance', new Set(['SOL/USDT']), new Map([['SOL/USDT', 150]]))], log, now: Date.now });
  const say = async (text: string, chat: ChatRef = { platform: 'console', chatId: 'local', kind: 'private', userId: 'local' }) => {
    const reply = await dispatchCommand(text, chat, { services: { hub, config, now: Date.now }, log });
    return reply && renderReply(reply, 'en');
  };

  it('says channels are a Telegram feature on the console', async () => {
    expect(await say('/channel add @signals')).toBe('Posting to channels is a Telegram feature: link a channel from a private chat with the bot on Telegram.');
  });

  it('judges the alert itself before the channel', async () => {
    expect(await say('/alert SOL/USDT to @signals')).toMatch(/^What should SOL\/USDT do\? Add a condition/);
  });

  it('points a group to the private chat', async () => {
    const group: ChatRef = { platform: 'telegram', chatId: '-100123', kind: 'group', userId: '7' };
    expect(await say('/channel list', group)).toBe(
      'Channels are linked and posted to from a private chat with me: open one and send /channel add @yourchannel.',
    );
  });
});
