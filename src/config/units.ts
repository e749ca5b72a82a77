/**
 * Duration and size literals of the configuration file.
 *
 * Durations: `ms s m h`, combinable from largest to smallest unit (`1m30s`, `1s500ms`);
 * a bare number is milliseconds. Result: a whole number of milliseconds in [0, MAX_DURATION_MS].
 * Sizes: `B KiB MiB GiB` (1024-based only); a bare number is bytes. Result: a whole number of bytes.
 * Decimals are allowed (`1.5s`, `0.5MiB`) when the result is whole.
 */

export type UnitResult = { ok: true; value: number } | { ok: false; message: string };

/** Node timers overflow above 2^31-1 ms and then fire at once; no duration may exceed this. */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const DURATION_UNITS: ReadonlyArray<readonly [unit: string, ms: number]> = [
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
  ['ms', 1],
];

const SIZE_UNITS: ReadonlyMap<string, number> = new Map([
  ['B', 1],
  ['KiB', 1024],
  ['MiB', 1024 ** 2],
  ['GiB', 1024 ** 3],
]);

/** Units people write by habit that this file format refuses, with what to write instead. */
const REFUSED_SIZE_UNITS: ReadonlyMap<string, string> = new Map([
  ['K', 'KiB'], ['KB', 'KiB'], ['kB', 'KiB'], ['kb', 'KiB'], ['k', 'KiB'],
  ['M', 'MiB'], ['MB', 'MiB'], ['mb', 'MiB'],
  ['G', 'GiB'], ['GB', 'GiB'], ['gb', 'GiB'],
  ['b', 'B'], ['bytes', 'B'],
]);

const DURATION_HINT = 'use ms, s, m or h, e.g. 500ms, 10s, 1m30s';
const SIZE_HINT = 'use B, KiB, MiB or GiB, e.g. 64KiB';

/** One `<number><unit>` term; whitespace between terms and before the unit is allowed. */
const TERM = /\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*/y;

interface Term { int: string; frac: string; unit: string; text: string }

function splitTerms(input: string): Term[] | null {
  const terms: Term[] = [];
  TERM.lastIndex = 0;
  while (TERM.lastIndex < input.length) {
    const start = TERM.lastIndex;
    const m = TERM.exec(input);
    if (!m) return null;
    const [int, frac = ''] = m[1]!.split('.');
    terms.push({ int: int!, frac, unit: m[2]!, text: input.slice(start, TERM.lastIndex).trim() });
  }
  return terms.length > 0 ? terms : null;
}

/** `int.frac × multiplier` exactly, or null when the result is not a whole number. */
function scale(term: Term, multiplier: number): number | null {
  const denominator = 10 ** term.frac.length;
  const fracPart = (Number(term.frac || '0') * multiplier) / denominator;
  if (!Number.isInteger(fracPart)) return null;
  return Number(term.int) * multiplier + fracPart;
}

function fromNumber(input: number, what: string, unit: string, max: number): UnitResult {
  if (!Number.isFinite(input) || input < 0) return { ok: false, message: `${what} must not be negative` };
  if (!Number.isInteger(input)) return { ok: false, message: `a bare number is ${unit}; ${input} is not a whole number of ${unit}` };
  if (input > max) return { ok: false, message: `${what} is too large (at most ${max} ${unit})` };
  return { ok: true, value: input };
}

export function parseDuration(input: string | number): UnitResult {
  if (typeof input === 'number') return fromNumber(input, 'a duration', 'milliseconds', MAX_DURATION_MS);
  const terms = splitTerms(input);
  if (!terms) return { ok: false, message: `invalid duration "${input}" (${DURATION_HINT})` };
  if (terms.length === 1 && terms[0]!.unit === '') {
    const ms = fromNumber(Number(input.trim()), 'a duration', 'milliseconds', MAX_DURATION_MS);
    return ms.ok ? ms : { ok: false, message: `invalid duration "${input}" (${ms.message})` };
  }
  let total = 0;
  let lastRank = -1;
  for (const term of terms) {
    if (term.unit === '') return { ok: false, message: `missing unit after "${term.text}" in duration "${input}" (${DURATION_HINT})` };
    const rank = DURATION_UNITS.findIndex(([u]) => u === term.unit);
    if (rank < 0) return { ok: false, message: `unknown duration unit "${term.unit}" in "${input}" (${DURATION_HINT})` };
    if (rank <= lastRank) return { ok: false, message: `duration "${input}" must list its units once each, from largest to smallest (e.g. 1m30s)` };
    lastRank = rank;
    const ms = scale(term, DURATION_UNITS[rank]![1]);
    if (ms === null) return { ok: false, message: `duration "${input}" is not a whole number of milliseconds` };
    total += ms;
  }
  if (total > MAX_DURATION_MS) return { ok: false, message: `duration "${input}" is too large (at most ${MAX_DURATION_MS}ms, about 24.8 days)` };
  return { ok: true, value: total };
}

export function parseSize(input: string | number): UnitResult {
  if (typeof input === 'number') return fromNumber(input, 'a size', 'bytes', Number.MAX_SAFE_INTEGER);
  const terms = splitTerms(input);
  if (!terms || terms.length !== 1) return { ok: false, message: `invalid size "${input}" (${SIZE_HINT})` };
  const term = terms[0]!;
  if (term.unit === '') {
    const bytes = fromNumber(Number(input.trim()), 'a size', 'bytes', Number.MAX_SAFE_INTEGER);
    return bytes.ok ? bytes : { ok: false, message: `invalid size "${input}" (${bytes.message})` };
  }
  const multiplier = SIZE_UNITS.get(term.unit);
  if (multiplier === undefined) {
    const instead = REFUSED_SIZE_UNITS.get(term.unit);
    const why = instead ? `; sizes are 1024-based, write ${instead}` : '';
    return { ok: false, message: `unknown size unit "${term.unit}" in "${input}" (${SIZE_HINT}${why})` };
  }
  const bytes = scale(term, multiplier);
  if (bytes === null) return { ok: false, message: `size "${input}" is not a whole number of bytes` };
  if (bytes > Number.MAX_SAFE_INTEGER) return { ok: false, message: `size "${input}" is too large` };
  return { ok: true, value: bytes };
}
