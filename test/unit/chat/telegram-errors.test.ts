import { GrammyError, HttpError } from 'grammy';
import { describe, expect, it } from 'vitest';
import { classifyTelegramError } from '../../../src/chat/telegram.js';

const TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

/** As grammY's client builds it from a Bot API error answer (core/error.ts toGrammyError). */
function apiError(error_code: number, description: string, parameters?: { retry_after?: number; migrate_to_chat_id?: number }): GrammyError {
  return new GrammyError("Call to 'sendMessage' failed!", { ok: false, error_code, description, ...(parameters ? { parameters } : {}) }, 'sendMessage', { chat_id: 42, text: 'hi' });
}

/** As grammY's client wraps a failed fetch (core/error.ts toHttpError); node-fetch quotes the URL, token included. */
function networkError(cause: string): HttpError {
  return new HttpError("Network request for 'sendMessage' failed!", new Error(`request to https://api.telegram.org/bot${TOKEN}/sendMessage failed, reason: ${cause}`));
}

describe('classifyTelegramError', () => {
  it.each([
    ['429 with retry_after', apiError(429, 'Too Many Requests: retry after 7', { retry_after: 7 }), { reason: 'rate_limited', retryAfterMs: 7_000 }],
    ['429 without retry_after', apiError(429, 'Too Many Requests'), { reason: 'rate_limited', retryAfterMs: 3_000 }],
    ['403 blocked', apiError(403, 'Forbidden: bot was blocked by the user'), { reason: 'forbidden' }],
    ['403 kicked from group', apiError(403, 'Forbidden: bot was kicked from the supergroup chat'), { reason: 'forbidden' }],
    ['403 deactivated user', apiError(403, 'Forbidden: user is deactivated'), { reason: 'forbidden' }],
    ['400 chat not found', apiError(400, 'Bad Request: chat not found'), { reason: 'not_found' }],
    ['400 group upgraded', apiError(400, 'Bad Request: group chat was upgraded to a supergroup chat', { migrate_to_chat_id: -1001234567890 }), { reason: 'migrated', to: '-1001234567890' }],
    ['400 group upgraded, no new id given', apiError(400, 'Bad Request: group chat was upgraded to a supergroup chat'), { reason: 'not_found' }],
    ['400 muted in group', apiError(400, 'Bad Request: not enough rights to send text messages to the chat'), { reason: 'forbidden' }],
    ['400 message too long', apiError(400, 'Bad Request: message is too long'), { reason: 'permanent' }],
    ['400 empty text', apiError(400, 'Bad Request: message text is empty'), { reason: 'permanent' }],
    ['401 token revoked', apiError(401, 'Unauthorized'), { reason: 'transient' }],
    ['409 conflict', apiError(409, 'Conflict: terminated by other getUpdates request'), { reason: 'transient' }],
    ['500', apiError(500, 'Internal Server Error'), { reason: 'transient' }],
    ['502 from a proxy', apiError(502, 'Bad Gateway'), { reason: 'transient' }],
    ['network: refused', networkError('connect ECONNREFUSED 127.0.0.1:443'), { reason: 'transient' }],
    ['network: timed out', new HttpError("Network request for 'sendMessage' failed!", new Error('Request timed out after 15000 ms')), { reason: 'transient' }],
    ['something else', new TypeError('x is not a function'), { reason: 'transient' }],
  ])('%s', (_name, err, expected) => {
    const outcome = classifyTelegramError(err);
    expect(outcome).toMatchObject({ ok: false, ...expected });
    expect(outcome.ok ? '' : outcome.error).not.toBe('');
  });

  it('keeps the description and the new chat id in the error text', () => {
    const outcome = classifyTelegramError(apiError(400, 'Bad Request: group chat was upgraded to a supergroup chat', { migrate_to_chat_id: -1001234567890 }));
    expect(outcome).toMatchObject({ error: expect.stringMatching(/upgraded to a supergroup chat.*migrate_to_chat_id -1001234567890/) });
  });

  it('never lets the token out, even when the network error quotes the URL', () => {
    const outcome = classifyTelegramError(networkError('connect ECONNREFUSED 127.0.0.1:443'));
    expect(outcome).toMatchObject({ error: expect.stringContaining('ECONNREFUSED') });
    expect(JSON.stringify(outcome)).not.toContain(TOKEN);
    expect(JSON.stringify(outcome)).not.toContain(TOKEN.split(':')[1]);
  });
});
