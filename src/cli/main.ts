#!/usr/bin/env node
import { buildProgram } from './program.js';

buildProgram(process.argv.slice(2))
  .then((program) => program.parseAsync(process.argv))
  .catch((err: unknown) => {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`sab: error: ${msg}\n`);
    process.exitCode = 1;
  });
