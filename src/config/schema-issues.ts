/**
 * Zod issues turned into file-path issues with readable messages: wrong types show the value
 * found, unknown keys get a "did you mean" hint from the keys the schema allows there.
 */
import type { z } from 'zod';
import { fileSchema } from './file-schema.js';
import type { KeyPath, SchemaIssue } from './key-path.js';
import { describe } from './schema-scalars.js';

const EXPECTED: Record<string, string> = {
  object: 'a mapping', array: 'a list', string: 'a string', number: 'a number', boolean: 'true or false',
};

export function errorMap(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code === 'invalid_type') {
    if (iss.input === undefined) return 'is required';
    return `must be ${EXPECTED[iss.expected] ?? iss.expected}, got ${describe(iss.input)}`;
  }
  if (iss.code === 'invalid_union' && iss.input === undefined) return 'is required';
  return undefined;
}

/** The keys the schema allows at `path` (an object's path), for "did you mean" hints. */
function knownKeysAt(path: KeyPath): string[] {
  let s: z.core.$ZodType | undefined = fileSchema;
  const unwrap = (t: z.core.$ZodType): z.core.$ZodType => {
    const def = t._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
    if (def.innerType) return unwrap(def.innerType);
    if (def.type === 'pipe' && def.in) return unwrap(def.in);
    return t;
  };
  for (const seg of path) {
    if (!s) return [];
    const def = unwrap(s)._zod.def as { type: string; shape?: Record<string, z.core.$ZodType>; element?: z.core.$ZodType };
    s = def.type === 'array' ? def.element : def.type === 'object' && typeof seg === 'string' ? def.shape?.[seg] : undefined;
  }
  const def = s && (unwrap(s)._zod.def as { type: string; shape?: Record<string, unknown> });
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

function unknownKeyMessage(key: string, known: string[]): string {
  const kebab = key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/_/g, '-').toLowerCase();
  const close = known.find((k) => k === kebab) ?? known.find((k) => editDistance(k, key) <= 2);
  if (close) return `unknown key (did you mean ${close}?)`;
  return known.length > 0 ? `unknown key (allowed: ${known.join(', ')})` : 'unknown key';
}

/** Zod issues as file-path issues; an unrecognized-keys issue becomes one issue per key, at that key. */
export function toSchemaIssues(issues: readonly z.core.$ZodIssue[]): SchemaIssue[] {
  return issues.flatMap((iss): SchemaIssue[] => {
    const path = iss.path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (iss.code === 'unrecognized_keys') {
      const known = knownKeysAt(path);
      return iss.keys.map((key) => ({ path: [...path, key], message: unknownKeyMessage(key, known) }));
    }
    return [{ path, message: iss.message }];
  });
}
