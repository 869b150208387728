import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger, redactSecrets } from '../../src/log.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, log: createLogger('info', stream as unknown as Parameters<typeof createLogger>[1]) };
}

const TOKEN = '1234567890:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw';

describe('logger', () => {
  it('redacts token fields and tokens inside messages and errors', () => {
    const { lines, log } = capture();
    log.info({ token: TOKEN, telegram: { token: TOKEN } }, 'starting');
    log.error({ err: new Error(`request to https://api.telegram.org/bot${TOKEN}/getMe failed`) }, 'boom');
    log.warn(`GET /bot${TOKEN}/sendMessage`);
    log.info({ url: 'postgresql://postgres:hunter2@db:5432/maxflash' }, 'db');
    const all = lines.join('');
    expect(all).not.toContain('AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw');
    expect(all).not.toContain('hunter2');
    expect(lines).toHaveLength(4);
  });

  it('scrubs free text', () => {
    expect(redactSecrets(`x bot${TOKEN} y`)).toBe('x bot<redacted> y');
    expect(redactSecrets('postgres://u:p4ss@h/db')).toBe('postgres://u:<redacted>@h/db');
    expect(redactSecrets('nothing secret here 12:34')).toBe('nothing secret here 12:34');
  });
});
