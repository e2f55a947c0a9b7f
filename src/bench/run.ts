#!/usr/bin/env node
// `npm run bench [-- area...]`: runs every benchmark module in this folder (or the named ones) and prints figures.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .map((f) => f.replace(/\.js$/, ''))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();

let failed = 0;
for (const name of modules) {
  const mod = (await import(path.join(here, `${name}.js`))) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') continue;
  process.stdout.write(`\n== bench: ${name} ==\n`);
  try {
    await mod.run();
  } catch (err) {
    failed++;
    process.stdout.write(`bench ${name} failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  }
}
if (failed) process.exitCode = 1;
