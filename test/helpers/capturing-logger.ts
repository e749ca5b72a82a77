import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '../../src/core/logger.js';

/** A real pino logger whose JSON lines are kept, for tests that assert on logs (warnings, access lines). */
export function capturingLogger(level = 'info'): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: pino({ level }, stream), lines };
}
