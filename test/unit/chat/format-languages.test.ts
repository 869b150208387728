import { describe, expect, it } from 'vitest';
import { formatAge, renderAlertMessage, renderReply, renderWatchMessage } from '../../../src/chat/format.js';
import { commandList } from '../../../src/chat/commands/index.js';
import type { Reply, RuleView } from '../../../src/chat/commands/types.js';
import type { AlertPayload } from '../../../src/delivery/notification.js';
import type { PriceTick } from '../../../src/market/types.js';
import { msg } from '../../../src/i18n/index.js';
import { webhookOffNotice } from '../../../src/delivery/webhook.js';

/** The same reply values rendered in English and Russian: wording changes, prices, pairs and commands do not. */

const NOW = Date.UTC(2026, 10, 25, 14, 2, 0);
const tick: PriceTick = { exchange: 'binance', pair: 'BTC/USDT', last: 97_234.12, changePct24h: -1.5, exchangeTs: NOW - 3_000, receivedAt: NOW, source: 'stream' };
const rule = (id: number, over: Partial<RuleView> = {}): RuleView => ({ id, exchange: 'binance', pair: 'BTC/USDT', condition: { kind: 'level', op: '>', price: '100000' }, paused: false, ...over });

const both = (reply: Reply) => ({ en: renderReply(reply, 'en'), ru: renderReply(reply, 'ru') });

describe('replies in both languages', () => {
  it('a price', () => {
    expect(both({ kind: 'price', tick, fromRest: false, now: NOW })).toEqual({
      en: 'BTC/USDT on binance: 97,234.12 USDT  ▼ −1.50% 24h\nquote 3 s ago · live stream',
      ru: 'BTC/USDT на binance: 97,234.12 USDT  ▼ −1.50% за 24 ч\nкотировка 3 с назад · живой поток',
    });
    expect(formatAge('ru', 3 * 3600_000)).toBe('3 ч назад');
  });

  it('an alert list, with a repeating, expiring and paused rule', () => {
    const rules = [
      rule(1),
      rule(2, { pair: 'ETH/USDT', condition: { kind: 'window_move', direction: 'down', percent: '3', windowSec: 3600 }, repeatEverySec: 1800, note: 'dip' }),
      rule(3, { condition: { kind: 'crosses', price: '100000' }, expiresAt: new Date(Date.UTC(2026, 11, 31)), paused: true }),
    ];
    expect(both({ kind: 'alert_list', rules, max: 20 })).toEqual({
      en: [
        'Alerts in this chat (3 of 20):',
        '#1 BTC/USDT above 100,000 · on binance',
        '#2 ETH/USDT down 3% within 1h · on binance · every 30m — dip',
        '#3 BTC/USDT crosses 100,000 · on binance · until 2026-12-31 00:00 UTC · paused',
        '',
        'Delete one with /delete <id>.',
      ].join('\n'),
      ru: [
        'Алерты этого чата (3 из 20):',
        '#1 BTC/USDT выше 100,000 · на binance',
        '#2 ETH/USDT: падение на 3% за 1 ч · на binance · раз в 30 мин — dip',
        '#3 BTC/USDT пересекает 100,000 · на binance · до 2026-12-31 00:00 UTC · на паузе',
        '',
        'Удалить алерт: /delete <номер>.',
      ].join('\n'),
    });
  });

  it.each([
    [1, 'Удалён 1 алерт этого чата.'],
    [3, 'Удалены все 3 алерта этого чата.'],
    [5, 'Удалены все 5 алертов этого чата.'],
    [22, 'Удалены все 22 алерта этого чата.'],
  ])('deleting all %d alerts', (count, ru) => {
    const reply: Reply = { kind: 'alerts_deleted', rules: Array.from({ length: count }, (_, i) => rule(i + 1)), all: true };
    expect(renderReply(reply, 'ru')).toBe(ru);
  });

  it('an error with its example', () => {
    const reply: Reply = { kind: 'error', text: msg('alerts.quota', { count: 5, max: 5 }), example: '/alerts' };
    expect(both(reply)).toEqual({
      en: 'This chat already has 5 alerts, the most allowed here (5). Delete some first.\nExample: /alerts',
      ru: 'В этом чате уже 5 алертов — это предел (5). Сначала удалите какие-нибудь.\nПример: /alerts',
    });
    expect(renderReply({ kind: 'error', text: msg('alerts.quota', { count: 3, max: 3 }) }, 'ru')).toBe('В этом чате уже 3 алерта — это предел (3). Сначала удалите какие-нибудь.');
  });

  it('a created alert, at a distance from its level', () => {
    const reply: Reply = {
      kind: 'alert_created', rule: rule(7, { repeatEverySec: 3600 }), tick, holdsNow: false, now: NOW,
      spec: { pair: 'BTC/USDT', condition: { kind: 'level', op: '>', price: '100000' }, repeat: { kind: 'every', cooldownSec: 3600 } },
    };
    expect(both(reply)).toEqual({
      en: '✅ Alert #7: BTC/USDT above 100,000 (binance)\nNow 97,234.12 USDT, 2.84% below the level.\nRepeats at most every 1h, after the price moves back.',
      ru: '✅ Алерт #7: BTC/USDT выше 100,000 (binance)\nСейчас 97,234.12 USDT, на 2.84% ниже уровня.\nПовторяется не чаще раза в 1 ч, после того как цена вернётся назад.',
    });
  });

  it('help: usages and summaries translated, examples typed as they are', () => {
    const commands = commandList();
    const price = commands.find((c) => c.name === 'price')!;
    expect(renderReply({ kind: 'help', commands, topic: price }, 'ru')).toBe(
      '/price <пара> [on <биржа>]\nпоследняя цена, изменение за 24 ч и свежесть котировки\n\nПримеры:\n  /price BTC/USDT\n  /price eth\n  /price SOL-USDT on bybit',
    );
    expect(renderReply({ kind: 'help', commands }, 'ru')).toContain('/language [en | ru] — показать или выбрать язык ответов и алертов');
  });

  it('the /language reply', () => {
    expect(renderReply({ kind: 'language', language: 'ru', changed: false }, 'ru')).toBe('Язык: русский. Варианты: /language en (English), /language ru (русский).');
    expect(renderReply({ kind: 'language', language: 'en', changed: true }, 'en')).toBe('Done: I will answer in English here, alerts included.');
  });
});

describe('notifications in both languages', () => {
  const payload: AlertPayload = {
    kind: 'alert', ruleId: 4, exchange: 'binance', pair: 'ETH/USDT', condition: 'ETH/USDT up 5% from creation', price: 3_150, at: NOW, source: 'poll', final: false, note: 'take profit',
  };
  const up = { kind: 'move', direction: 'up', percent: '5' } as const;

  it('a fired alert', () => {
    expect(renderAlertMessage('en', payload, up, 'Europe/Moscow')).toBe(
      '🔔 ETH/USDT up 5% from creation\nETH/USDT is 3,150.00 USDT on binance (price from REST polling while the stream was down)\n2026-11-25 14:02:00 UTC (2026-11-25 17:02 Europe/Moscow) · alert #4 (repeating)\nNote: take profit',
    );
    expect(renderAlertMessage('ru', payload, up, 'Europe/Moscow')).toBe(
      '🔔 ETH/USDT: рост на 5% от цены при создании\nETH/USDT: 3,150.00 USDT на binance (цена получена опросом REST, пока поток был недоступен)\n2026-11-25 14:02:00 UTC (2026-11-25 17:02 Europe/Moscow) · алерт #4 (повторяющийся)\nЗаметка: take profit',
    );
  });

  it('a watch move', () => {
    const move = { watchId: 1, exchange: 'binance', pair: 'BTC/USDT', price: 101_234.5, from: 98_170, since: NOW - 600_000, at: NOW, source: 'stream' as const };
    expect(renderWatchMessage('en', move)).toBe('📈 BTC/USDT +3.12% to 101,234.50 USDT on binance (from 98,170.00 since 13:52 UTC)');
    expect(renderWatchMessage('ru', move)).toBe('📈 BTC/USDT +3.12% до 101,234.50 USDT на binance (от 98,170.00 с 13:52 UTC)');
  });
});

describe('the webhook switch-off notice', () => {
  it.each([
    [1, '⚠️ Webhook switched off: https://h.example/x failed a delivery.', '⚠️ Вебхук отключён: 1 неудачная доставка подряд на https://h.example/x.'],
    [3, '⚠️ Webhook switched off: https://h.example/x failed 3 deliveries in a row.', '⚠️ Вебхук отключён: 3 неудачные доставки подряд на https://h.example/x.'],
    [50, '⚠️ Webhook switched off: https://h.example/x failed 50 deliveries in a row.', '⚠️ Вебхук отключён: 50 неудачных доставок подряд на https://h.example/x.'],
  ])('after %d failures', (count, en, ru) => {
    expect(webhookOffNotice('en', 'https://h.example/x', count, 'HTTP 500').split('\n')[0]).toBe(en);
    const text = webhookOffNotice('ru', 'https://h.example/x', count, 'HTTP 500');
    expect(text).toBe(`${ru}\nПоследняя ошибка: HTTP 500\nАлерты по-прежнему приходят сюда. Чтобы снова отправлять их туда, пришлите /webhook https://h.example/x (секрет будет новым).`);
  });
});

describe('channel replies in both languages', () => {
  it('unlinking, with what went with it counted in Russian forms', () => {
    const reply: Reply = { kind: 'channel_unlinked', channel: '@signals', deleted: { alerts: 3, watches: 1 } };
    expect(both(reply)).toEqual({
      en: 'Unlinked @signals. No chat links it any more, so its 3 alerts and 1 watch were deleted.',
      ru: 'Канал @signals отключён. Больше его не подключает ни один чат, поэтому удалены 3 алерта и 1 отслеживание.',
    });
    expect(renderReply({ kind: 'channel_unlinked', channel: '@signals', deleted: { alerts: 5, watches: 2 } }, 'ru')).toBe(
      'Канал @signals отключён. Больше его не подключает ни один чат, поэтому удалены 5 алертов и 2 отслеживания.',
    );
  });

  it('the list of linked channels', () => {
    const channels = [{ handle: '@signals', alerts: 21, watches: 0, linkedAt: new Date(NOW) }];
    expect(renderReply({ kind: 'channel_list', channels }, 'ru')).toBe(
      'Подключённые каналы:\n@signals: 21 алерт, 0 отслеживаний\n\nПубликовать в канал: /alert … to @channel или /watch … to @channel; /channel remove @channel отключит его.',
    );
  });

  it("deleting all of a channel's alerts", () => {
    expect(renderReply({ kind: 'alerts_deleted', rules: [rule(1), rule(2)], all: true, channel: '@signals' }, 'ru')).toBe('Удалены все 2 алерта канала @signals.');
  });
});
