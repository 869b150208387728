// Compiles src/ to dist/ only when a source file is newer than the last build, so `npm start` right after
// `npm install` (which builds) starts at once, and a start after editing a file still runs fresh code.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// tsc rewrites every output and, with noEmitOnError, none after a failed build: main.js dates the last good build
const stamp = path.join(root, 'dist', 'main.js');

function newest(dir) {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : fs.statSync(full).mtimeMs);
  }
  return latest;
}

const inputs = Math.max(newest(path.join(root, 'src')), ...['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => fs.statSync(path.join(root, f)).mtimeMs));
const built = fs.existsSync(stamp) ? fs.statSync(stamp).mtimeMs : 0;
if (inputs > built) {
  process.stderr.write('building MaxFlash (src → dist)…\n');
  execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
}
