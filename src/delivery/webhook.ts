import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isPrivateHost, PrivateAddressError, refusePrivateLookup } from '../lib/net.js';
import { t, type Lang } from '../i18n/index.js';
import { describeError } from '../errors.js';

/**
 * Outgoing webhooks: one alert per POST, its JSON body signed with the chat's secret so the receiver
 * can tell it came from this bot. The dispatcher owns retries; this file only sends and classifies.
 */

export const SIGNATURE_HEADER = 'x-maxflash-signature';
export const DELIVERY_HEADER = 'x-maxflash-delivery';
export const WEBHOOK_TIMEOUT_MS = 10_000;

/** `sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the secret text as given to the user. */
export function signWebhookBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** sent: accepted; retry: worth another try later (429, 5xx, network); failed: the receiver refused it for good. */
export type WebhookOutcome = { ok: true } | { ok: false; retry: boolean; error: string; status?: number };

/**
 * Failed attempts in a row after which a webhook is switched off: with retries backing off to 30
 * minutes, about a day of a receiver that never answers, sooner if alerts keep coming.
 */
export const WEBHOOK_GIVE_UP_AFTER = 50;

/**
 * Whether to stop posting to a receiver: it has failed too often in a row, or says it is gone for good
 * (410). Posting on would only pile up failed rows and hammer a host that is not listening.
 */
export function webhookGivesUp(failuresInARow: number, outcome: Extract<WebhookOutcome, { ok: false }>): boolean {
  return failuresInARow >= WEBHOOK_GIVE_UP_AFTER || outcome.status === 410;
}

/**
 * The chat's notice when its webhook is switched off: why, and how to turn it on again, in the chat's
 * language (the error itself is the receiver's or the network's own text).
 */
export function webhookOffNotice(lang: Lang, url: string, failuresInARow: number, lastError: string): string {
  return [
    t(lang, 'webhook.switchedOff', { url, count: failuresInARow }),
    t(lang, 'webhook.lastError', { error: lastError }),
    t(lang, 'webhook.switchedOffHowTo', { url }),
  ].join('\n');
}

/** 2xx is delivered; 429 and 5xx may pass; any other answer (4xx, or a redirect we do not follow) will not. */
export function classifyWebhookStatus(status: number): 'sent' | 'retry' | 'failed' {
  if (status >= 200 && status < 300) return 'sent';
  if (status === 429 || status >= 500) return 'retry';
  return 'failed';
}

export interface WebhookRequest {
  url: string;
  secret: string;
  /** the outbox row's id: lets the receiver drop a delivery it saw before (retries after a lost answer) */
  deliveryId: string;
  body: string;
}

export interface PostOptions {
  timeoutMs?: number;
  /**
   * Post to this machine and private networks too (WEBHOOK_ALLOW_LOCAL). Off, a URL whose name resolves
   * to such an address is refused at connect time: `/webhook` can only judge the name it was given.
   */
  allowLocal?: boolean;
}

/** Never throws: every problem becomes an outcome. */
export async function postWebhook(req: WebhookRequest, opts: PostOptions = {}): Promise<WebhookOutcome> {
  const url = new URL(req.url);
  if (!opts.allowLocal && isPrivateHost(url.hostname)) {
    return { ok: false, retry: false, error: `webhook refused: ${url.hostname} is a local or private-network address` };
  }
  let res: { status: number; body: string };
  try {
    res = await post(url, req, opts);
  } catch (err) {
    if (err instanceof PrivateAddressError) return { ok: false, retry: false, error: `webhook refused: ${err.message}` };
    return { ok: false, retry: true, error: `webhook unreachable: ${describeError(err)}` };
  }
  const verdict = classifyWebhookStatus(res.status);
  if (verdict === 'sent') return { ok: true };
  const detail = res.body.trim();
  return { ok: false, retry: verdict === 'retry', error: `webhook answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`, status: res.status };
}

/** the receiver's own words help the user fix a refusal; a few hundred characters are plenty */
const MAX_ANSWER = 200;

/**
 * node:http rather than fetch: only a socket-level `lookup` can check the address actually connected
 * to, and it never follows a redirect, which could carry the signed alert somewhere the user never chose.
 */
function post(url: URL, req: WebhookRequest, opts: PostOptions): Promise<{ status: number; body: string }> {
  const body = Buffer.from(req.body, 'utf8');
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          [SIGNATURE_HEADER]: signWebhookBody(req.secret, req.body),
          [DELIVERY_HEADER]: req.deliveryId,
        },
        signal: AbortSignal.timeout(opts.timeoutMs ?? WEBHOOK_TIMEOUT_MS),
        ...(opts.allowLocal ? {} : { lookup: refusePrivateLookup }),
      },
      (incoming) => {
        const status = incoming.statusCode ?? 0;
        let answer = '';
        incoming.setEncoding('utf8');
        incoming.on('data', (chunk: string) => {
          if (classifyWebhookStatus(status) === 'sent' || answer.length >= MAX_ANSWER) return;
          answer += chunk;
        });
        incoming.on('end', () => resolve({ status, body: answer.slice(0, MAX_ANSWER) }));
        incoming.on('error', reject);
      },
    );
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}
