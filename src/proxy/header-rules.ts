/**
 * A farm's `request-headers` / `response-headers` rules (issue 13 item 1; validated by
 * src/config/header-rules-schema.ts), applied after hop-by-hop handling: `remove` drops every
 * header of that name, `set` replaces every header of that name with one, `add` appends one
 * (keeping those already there). Order: remove, set, add — so `add` after `set` of the same name
 * gives two values, and `remove` of a `set` name still leaves the set value.
 */
import type { HeaderRules } from '../config/config-types.js';
import type { HeaderList } from '../core/types.js';

const EMPTY: HeaderRules = { set: [], add: [], remove: [] };

export function hasRules(rules: HeaderRules | undefined): rules is HeaderRules {
  return !!rules && (rules.set.length > 0 || rules.add.length > 0 || rules.remove.length > 0);
}

/** Lowercased names whose existing headers the rules drop. Cached per (frozen) rules object. */
const dropCache = new WeakMap<HeaderRules, ReadonlySet<string>>();
function dropped(rules: HeaderRules): ReadonlySet<string> {
  let d = dropCache.get(rules);
  if (!d) {
    d = new Set([...rules.remove, ...rules.set.map(([n]) => n.toLowerCase())]);
    dropCache.set(rules, d);
  }
  return d;
}

/** Rules on undici's flat request header array [name, value, …] (a new array). */
export function applyRequestRules(flat: string[], rules: HeaderRules = EMPTY): string[] {
  if (!hasRules(rules)) return flat;
  const drop = dropped(rules);
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) if (!drop.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  for (const [n, v] of rules.set) out.push(n, v);
  for (const [n, v] of rules.add) out.push(n, v);
  return out;
}

/** Rules on a response header list (a new list). */
export function applyResponseRules(headers: HeaderList, rules: HeaderRules = EMPTY): HeaderList {
  if (!hasRules(rules)) return headers;
  const drop = dropped(rules);
  const out: HeaderList = headers.filter(([n]) => !drop.has(n.toLowerCase()));
  for (const [n, v] of rules.set) out.push([n, v]);
  for (const [n, v] of rules.add) out.push([n, v]);
  return out;
}
