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
