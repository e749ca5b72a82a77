import { Writable } from 'node:stream';
import pino from 'pino';
import type { Logger } from '../../src/core/logger.js';

/** A real pino logger whose raw output lines are kept as written (duplicate keys stay visible). */
export function rawLineLogger(level = 'info'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(l);
      cb();
    },
  });
  return { log: pino({ level, base: { app: 'longhaul' } }, stream), lines };
}

/**
 * Keys that occur twice in one JSON object of `line` (at any depth). JSON.parse keeps the last
 * one silently; Elasticsearch and other pipelines refuse the line.
 */
export function duplicateKeys(line: string): string[] {
  const dups: string[] = [];
  const stack: Array<Set<string> | null> = [];
  let i = 0;
  let expectKey = false;
  while (i < line.length) {
    const ch = line[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const str = JSON.parse(line.slice(i, j + 1)) as string;
      const top = stack[stack.length - 1];
      if (expectKey && top) {
        if (top.has(str)) dups.push(str);
        top.add(str);
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (ch === '{') { stack.push(new Set()); expectKey = true; }
    else if (ch === '[') stack.push(null);
    else if (ch === '}' || ch === ']') stack.pop();
    else if (ch === ',') expectKey = stack[stack.length - 1] !== null;
    i++;
  }
  return dups;
}
