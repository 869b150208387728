import { describe, expect, it } from 'vitest';
import { dispatchCommand } from '../../../src/chat/commands/index.js';
import { canonicalTimezone } from '../../../src/chat/commands/timezone.js';
import type { ChatRef, CommandServices } from '../../../src/chat/commands/types.js';
import { localTime, renderAlertMessage, renderReply } from '../../../src/chat/format.js';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { MarketHub } from '../../../src/market/hub.js';
import { MemoryFeed } from '../../helpers/memory-feed.js';

const log = createLogger('silent');
const NOW = Date.UTC(2026, 10, 25, 16, 4, 0);

function setup() {
  const stored = new Map<string, string | null>();
  const hub = new MarketHub({ feeds: [new MemoryFeed('binance', new Set(['BTC/USDT']))], log });
  // only the two settings methods matter here; the rest of the alerts API is not reached
  const alerts = {
    timezone: async (chat: ChatRef) => stored.get(chat.chatId) ?? null,
    setTimezone: async (chat: ChatRef, tz: string | null) => void stored.set(chat.chatId, tz),
  } as unknown as NonNullable<CommandServices['alerts']>;
  const services: CommandServices = { hub, config: loadConfig({}), alerts, now: () => NOW };
  const chat: ChatRef = { platform: 'console', chatId: 'c1', kind: 'private' };
  const say = async (text: string, as: ChatRef = chat, canManage?: (c: ChatRef) => Promise<boolean>) =>
    renderReply((await dispatchCommand(text, as, { services, log, ...(canManage ? { canManage } : {}) }))!, 'en');
  return { say, stored };
}

describe('/timezone', () => {
  it('shows UTC by default, sets a region/city zone, and clears it', async () => {
    const { say, stored } = setup();
    expect(await say('/timezone')).toBe('Times in messages are in UTC. Set your own with /timezone Europe/Berlin.');
    expect(await say('/timezone europe/berlin')).toBe('Timezone set to Europe/Berlin (now 2026-11-25 17:04). Alerts show this time beside UTC.');
    expect(stored.get('c1')).toBe('Europe/Berlin');
    expect(await say('/timezone')).toBe('Timezone: Europe/Berlin (now 2026-11-25 17:04). Alerts show this time beside UTC.');
    expect(await say('/tz utc')).toBe('Times in messages are now in UTC only.');
    expect(stored.get('c1')).toBeNull();
  });

  it.each(['Mars/Olympus', '+03:00', 'Etc/GMT-3', 'Europe Berlin', 'x'.repeat(80)])('refuses %j with an example', async (input) => {
    const { say } = setup();
    expect(await say(`/timezone ${input}`)).toMatch(/\nExample: \/timezone Europe\/Berlin$/);
  });

  it('is for admins only in groups', async () => {
    const { say } = setup();
    const group: ChatRef = { platform: 'telegram', chatId: '-100', kind: 'group', userId: '7' };
    expect(await say('/timezone Asia/Tokyo', group, async () => false)).toBe("Only this group's admins can change its settings.");
  });
});

const ABOVE = { kind: 'level', op: '>', price: '100000' } as const;

describe('times in alert messages', () => {
  it('shows the chat timezone beside UTC when one is set', () => {
    const payload = { kind: 'alert', ruleId: 4, exchange: 'binance', pair: 'BTC/USDT', condition: 'BTC/USDT above 100,000', price: 100_500, at: NOW, source: 'stream', final: true } as const;
    expect(renderAlertMessage('en', payload, ABOVE)).toContain('2026-11-25 16:04:00 UTC · alert #4');
    expect(renderAlertMessage('en', payload, ABOVE, 'America/New_York')).toContain('2026-11-25 16:04:00 UTC (2026-11-25 11:04 America/New_York) · alert #4');
    expect(localTime(NOW, 'Asia/Kolkata')).toBe('2026-11-25 21:34');
    expect(canonicalTimezone('asia/kolkata')).toBe('Asia/Kolkata');
  });
});
