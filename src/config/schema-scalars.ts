/**
 * Scalar field schemas of the configuration file (names, integers, booleans, enums, file paths,
 * durations, sizes) and how a wrong value is shown in their messages.
 */
import { z } from 'zod';
import { parseDuration, parseSize, type UnitResult } from './units.js';

type IssueLike = { input?: unknown; code?: string };
/** Schema-level message that says "is required" for a missing key and otherwise shows the wrong value. */
export const need = (message: string, showValue = (_input: unknown) => true) => (iss: IssueLike) => {
  if (iss.input === undefined) return 'is required';
  return showValue(iss.input) ? `${message}, got ${describe(iss.input)}` : message;
};

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the string "${v}"`;
  return String(v);
}

export const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const name = () =>
  z.string({ error: need('must be a string') })
    .regex(NAME, { error: "must start with a letter or digit and contain only letters, digits, '.', '_' or '-'" });

export const int = (min: number, max?: number) => {
  const message = max === undefined ? `must be an integer >= ${min}` : `must be an integer from ${min} to ${max}`;
  return z.custom<number>(
    (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && (max === undefined || v <= max),
    // abort:false keeps the issue continuable so the cross-field rules still run (z.custom aborts by default).
    { error: need(message, (input) => typeof input !== 'number'), abort: false },
  );
};

export const bool = () => z.boolean({ error: need('must be true or false') });
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: need(`must be one of: ${values.join(', ')}`) });
export const filePath = () => z.string({ error: need('must be a file path') }).min(1, { error: 'must not be empty' });

function unitValue(parse: (v: string | number) => UnitResult, what: string, min: number) {
  return z.union([z.string(), z.number()], { error: need(`must be a ${what}`) }).transform((input, ctx) => {
    const r = parse(input);
    if (!r.ok) { ctx.addIssue({ code: 'custom', message: r.message }); return z.NEVER; }
    if (r.value < min) { ctx.addIssue({ code: 'custom', message: `must be at least ${min === 1 ? '1ms' : `${min}`}` }); return z.NEVER; }
    return r.value;
  });
}
/** Milliseconds; `min` 1 for timeouts and intervals, 0 where 0 means "off" or "unlimited". */
export const duration = (min: 0 | 1 = 1) => unitValue(parseDuration, 'duration like 500ms, 10s or 1m30s', min);
export const size = () => unitValue(parseSize, 'size like 64KiB', 0);
