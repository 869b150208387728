import { createHmac } from 'node:crypto';
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
export type WebhookOutcome = { ok: true } | { ok: false; retry: boolean; error: string };

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

/** Never throws: every problem becomes an outcome. */
export async function postWebhook(req: WebhookRequest, timeoutMs = WEBHOOK_TIMEOUT_MS): Promise<WebhookOutcome> {
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signWebhookBody(req.secret, req.body), [DELIVERY_HEADER]: req.deliveryId },
      body: req.body,
      // a redirect could carry the signed alert somewhere the user never chose
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    return { ok: false, retry: true, error: `webhook unreachable: ${describeError(err)}` };
  }
  const verdict = classifyWebhookStatus(res.status);
  // the receiver's own words help the user fix it; a few hundred characters are plenty
  const detail = verdict === 'sent' ? '' : (await res.text().catch(() => '')).slice(0, 200).trim();
  if (verdict === 'sent') {
    await res.body?.cancel().catch(() => undefined);
    return { ok: true };
  }
  return { ok: false, retry: verdict === 'retry', error: `webhook answered HTTP ${res.status}${detail ? `: ${detail}` : ''}` };
}
