import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILT_MAIN = path.join(ROOT, 'dist/main.js');

/** A free TCP port on loopback (the bot binds HTTP_PORT itself, so the test must know it in advance). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface BotProcess {
  child: ChildProcessWithoutNullStreams;
  startedAt: number;
  stdout: string[];
  stderr: string[];
  /** resolves with the first line (old or new) matching, or rejects after timeoutMs with what was seen */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs?: number): Promise<{ line: string; at: number }>;
  send(line: string): void;
  /** SIGTERM, then SIGKILL if it has not exited in time; resolves with the exit code */
  stop(timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Spawns the built bot (`dist/main.js`, as `npm start` runs it) with only the given environment. */
export function spawnBot(env: Record<string, string>, opts: { stdin?: 'pipe' | 'closed' } = {}): BotProcess {
  const startedAt = Date.now();
  const child = spawn(process.execPath, [BUILT_MAIN], {
    // TOP_PAIRS=0: the tests count connections and REST hits; top-pair tracking has its own tests
    env: { PATH: process.env.PATH ?? '', TOP_PAIRS: '0', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (opts.stdin === 'closed') child.stdin.end();
  const lines = { stdout: [] as string[], stderr: [] as string[] };
  // arrival time of each line, so a wait that finds an earlier line still reports when it came
  const times = { stdout: [] as number[], stderr: [] as number[] };
  const waiters = new Set<{ stream: 'stdout' | 'stderr'; pattern: RegExp; resolve: (v: { line: string; at: number }) => void }>();
  for (const stream of ['stdout', 'stderr'] as const) {
    readline.createInterface({ input: child[stream] }).on('line', (line) => {
      lines[stream].push(line);
      times[stream].push(Date.now());
      for (const w of waiters) {
        if (w.stream === stream && w.pattern.test(line)) {
          waiters.delete(w);
          w.resolve({ line, at: Date.now() });
        }
      }
    });
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    startedAt,
    ...lines,
    exited,
    waitFor(stream, pattern, timeoutMs = 15_000) {
      const index = lines[stream].findIndex((l) => pattern.test(l));
      if (index >= 0) return Promise.resolve({ line: lines[stream][index]!, at: times[stream][index]! });
      return new Promise((resolve, reject) => {
        const waiter = { stream, pattern, resolve };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no ${stream} line matching ${pattern} within ${timeoutMs} ms.\nstdout:\n${lines.stdout.join('\n')}\nstderr:\n${lines.stderr.slice(-40).join('\n')}`));
        }, timeoutMs);
        waiter.resolve = (v) => {
          clearTimeout(timer);
          resolve(v);
        };
        waiters.add(waiter);
        void exited.then((code) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`bot exited (${code}) before a ${stream} line matched ${pattern}.\nstderr:\n${lines.stderr.slice(-40).join('\n')}`));
        });
      });
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    async stop(timeoutMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls GET url until it answers (any status), returning the body and when it first answered. */
export async function waitForHttp(url: string, timeoutMs = 15_000): Promise<{ status: number; body: unknown; at: number }> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      return { status: res.status, body: await res.json(), at: Date.now() };
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
}
