/**
 * How an `include:`d file and the including file combine (issue 12 item 2; README
 * "Configuration reference", `include`). The included files are layered first, in list order,
 * then the including file on top:
 *  - mappings merge key by key, recursively; the upper layer wins on a scalar or a list;
 *  - lists of named items (`listeners`, `farms`, `farms[].servers`, the keys in NAMED_LISTS)
 *    merge by `name`: an item whose name is already there merges into it (recursively, these
 *    rules again), a new name is appended in order;
 *  - any other list (`retry-on`, `sni-certs`, `names` …) is replaced whole;
 *  - `null` in the upper layer replaces (so `health: null` in a region cannot mean "keep").
 * The result is validated as one file: `check` and `run` see only the merged configuration.
 */
const NAMED_LISTS = new Set(['listeners', 'farms', 'servers']);

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const named = (v: unknown): v is Record<string, unknown> & { name: string } => isMap(v) && typeof v.name === 'string';

function mergeNamedLists(lower: unknown[], upper: unknown[]): unknown[] {
  if (!lower.every(named) || !upper.every(named)) return upper; // invalid items: the schema reports them on the upper list
  const out = lower.map((item) => ({ ...item })) as Array<Record<string, unknown> & { name: string }>;
  for (const item of upper) {
    const at = out.findIndex((o) => o.name === item.name);
    if (at >= 0) out[at] = mergeLayers(out[at], item) as Record<string, unknown> & { name: string };
    else out.push(item);
  }
  return out;
}

/** `upper` layered over `lower`, by the rules above. Neither input is modified. */
export function mergeLayers(lower: unknown, upper: unknown, key?: string): unknown {
  if (key !== undefined && NAMED_LISTS.has(key) && Array.isArray(lower) && Array.isArray(upper)) return mergeNamedLists(lower, upper);
  if (!isMap(lower) || !isMap(upper)) return upper;
  const out: Record<string, unknown> = { ...lower };
  for (const [k, v] of Object.entries(upper)) out[k] = k in lower ? mergeLayers(lower[k], v, k) : v;
  return out;
}
