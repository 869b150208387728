/**
 * Runs the fake Binance by itself so a person can point the bot at it:
 *   npx tsx test/fakes/binance-server.ts [port]
 * prints the two variables to export, then moves every price by a small random walk each second.
 */
import { startFakeBinance } from './binance.js';

const port = Number(process.argv[2] ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`usage: npx tsx test/fakes/binance-server.ts [port]   (got "${process.argv[2]}")`);
  process.exit(2);
}

const fake = await startFakeBinance({ port, emitIntervalMs: 1000 });
console.log(`BINANCE_REST_URL=${fake.restUrl} BINANCE_WS_URL=${fake.wsUrl}`);

// starting points of the walk: whatever the fake answers over REST, so the two never disagree
const res = await fetch(`${fake.restUrl}/ticker/24hr`);
const prices = new Map<string, number>(
  ((await res.json()) as Array<{ symbol: string; lastPrice: string }>).map((t) => [t.symbol, Number(t.lastPrice)]),
);

const walk = setInterval(() => {
  for (const [symbol, last] of prices) {
    const next = last * (1 + (Math.random() - 0.5) * 0.002);
    prices.set(symbol, next);
    const decimals = last >= 100 ? 2 : last >= 1 ? 4 : 5;
    fake.setPrice(symbol, next.toFixed(decimals));
  }
}, 1000);

const shutdown = (): void => {
  clearInterval(walk);
  void fake.close().then(() => process.exit(0));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
