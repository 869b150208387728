export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** 0 → exact exponential; 1 → "full jitter" (uniform in [0, delay]). Default 0.5: never shorter than half. */
  jitter?: number;
  random?: () => number;
}

/**
 * Delay before retry number `attempt` (0-based): base·2^attempt capped at capMs, with part of it jittered
 * so a fleet of bots that lost the same exchange at once does not reconnect in lockstep.
 */
export function nextDelay(attempt: number, { baseMs, capMs, jitter = 0.5, random = Math.random }: BackoffOptions): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 30);
  const ceiling = Math.min(capMs, baseMs * 2 ** exponent);
  const fixed = ceiling * (1 - jitter);
  return Math.round(fixed + random() * (ceiling - fixed));
}
