/**
 * Polls `probe` until it gives a value (anything but undefined, false or null), or throws naming `what`
 * after `ms`. Tests and benchmarks wait on conditions this way, never on fixed sleeps.
 */
export async function waitFor<T>(probe: () => T | undefined | false | null, what: string, ms = 10_000, everyMs = 10): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false && value !== null) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** waitFor for a check that has to ask something asynchronous (the database, a server) */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000, everyMs = 10): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The most events any half-open window of `windowMs` holds (times ascending): what a rate limit counts. */
export function busiestWindow(times: readonly number[], windowMs: number): number {
  let most = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j]! - times[i]! >= windowMs) i++;
    most = Math.max(most, j - i + 1);
  }
  return most;
}
