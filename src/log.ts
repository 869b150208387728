import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };

/**
 * Paths that may hold secrets anywhere in a log object. Tokens also sit inside URLs (the Telegram Bot API
 * puts the token in the path), so `redactSecrets` below scrubs free text as well.
 */
const REDACT_PATHS = [
  'token', '*.token', 'botToken', '*.botToken', 'password', '*.password', 'secret', '*.secret',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'webhookSecret', '*.webhookSecret', 'databaseUrl', '*.databaseUrl', 'DATABASE_URL',
];

/** Scrubs bot tokens and URL credentials out of free text (error messages quote request URLs). */
export function redactSecrets(text: string): string {
  return text
    .replace(/bot\d{3,}:[A-Za-z0-9_-]{20,}/g, 'bot<redacted>')
    .replace(/\b\d{5,}:[A-Za-z0-9_-]{30,}\b/g, '<redacted-token>')
    .replace(/(\w+:\/\/)([^:/@\s]+):([^@/\s]+)@/g, '$1$2:<redacted>@');
}

function scrubError(err: Error): Error {
  err.message = redactSecrets(err.message);
  if (err.stack) err.stack = redactSecrets(err.stack);
  return err;
}

export function createLogger(level: LevelWithSilent = 'info', destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'maxflash' },
      redact: { paths: REDACT_PATHS, censor: '<redacted>' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: {
        logMethod(args, method) {
          // Error messages, URLs and free text can quote a token or a password; scrub them on the way out.
          const scrubbed = args.map((a: unknown) => {
            if (typeof a === 'string') return redactSecrets(a);
            if (a instanceof Error) return scrubError(a);
            if (a && typeof a === 'object' && !Array.isArray(a)) {
              const copy: Record<string, unknown> = {};
              for (const [k, v] of Object.entries(a)) {
                copy[k] = typeof v === 'string' ? redactSecrets(v) : v instanceof Error ? scrubError(v) : v;
              }
              return copy;
            }
            return a;
          });
          method.apply(this, scrubbed as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
