/**
 * Environment substitution in configuration values.
 *
 * `${VAR}` is VAR's value; an unset VAR is an error. `${VAR:-default}` is VAR's value, or `default`
 * when VAR is unset or empty (shell semantics). `$${` is a literal `${`. A default cannot contain
 * `${` or `}`. Names match [A-Za-z_][A-Za-z0-9_]*.
 *
 * In YAML, references are first swapped for inert placeholders (`protectReferences`), so neither a
 * reference (`{` opens a flow mapping inside `[...]` or `{...}`) nor a substituted value (`: `, `#`)
 * can change the document's structure. After parsing, only scalars in value position are expanded
 * (keys get their text back, unexpanded). A plain (unquoted) scalar is re-typed after expansion the
 * way YAML would have typed the text (`max-conn: ${N}` with N=24 gives the number 24); a quoted
 * scalar stays a string.
 */
import { isAlias, isMap, isScalar, isSeq, parseDocument, Scalar, type Document, type Node } from 'yaml';
import type { KeyPath } from './key-path.js';

export interface EnvIssue { path: KeyPath; message: string }

export type ExpandResult = { ok: true; value: string } | { ok: false; errors: string[] };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function expandEnv(text: string, env: NodeJS.ProcessEnv): ExpandResult {
  const errors: string[] = [];
  let out = '';
  let i = 0;
  while (i < text.length) {
    const at = text.indexOf('$', i);
    if (at < 0) { out += text.slice(i); break; }
    out += text.slice(i, at);
    if (text.startsWith('$${', at)) { out += '${'; i = at + 3; continue; }
    if (!text.startsWith('${', at)) { out += '$'; i = at + 1; continue; }
    const close = text.indexOf('}', at + 2);
    if (close < 0) { errors.push(`unterminated "\${" in "${text}"`); break; }
    const body = text.slice(at + 2, close);
    i = close + 1;
    const sep = body.indexOf(':-');
    const name = sep < 0 ? body : body.slice(0, sep);
    const fallback = sep < 0 ? undefined : body.slice(sep + 2);
    if (!NAME.test(name)) { errors.push(`invalid variable reference "\${${body}}" (expected \${NAME} or \${NAME:-default})`); continue; }
    if (fallback?.includes('${')) { errors.push(`the default of \${${name}:-...} cannot contain another \${...}`); continue; }
    const value = env[name];
    if (fallback !== undefined) out += value === undefined || value === '' ? fallback : value;
    else if (value !== undefined) out += value;
    else errors.push(`environment variable ${name} is not set (write \${${name}:-default} to give a default)`);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, value: out };
}

/**
 * The number, boolean or null YAML would read from this unquoted one-line text; otherwise the text
 * itself (never folded, never a collection, tag or anchor).
 */
function retype(text: string): unknown {
  if (/[\r\n]/.test(text)) return text;
  const doc = parseDocument(text);
  const node = doc.contents;
  if (doc.errors.length > 0 || !isScalar(node) || node.type !== Scalar.PLAIN || node.tag || node.anchor) return text;
  return typeof node.value === 'string' ? text : node.value;
}

export interface ProtectedText {
  /** The source with every reference replaced by a placeholder made of [a-z0-9_] only. */
  text: string;
  /** Puts the original reference text back in place of any placeholder in `s`. */
  restore(s: string): string;
  /** The offset in the source of an offset in `text`. */
  sourceOffset(offset: number): number;
}

/** References are found as in `expandEnv` but never span lines; `$${` is carried over as is. */
export function protectReferences(source: string): ProtectedText {
  let prefix = '__lh_env_';
  while (source.includes(prefix)) prefix += '_';
  const refs: string[] = [];
  /** [offset in `text` just after a placeholder, source offset minus text offset from there on] */
  const shifts: Array<[number, number]> = [];
  let delta = 0;
  const text = source.replace(/\$\$\{|\$\{[^}\n]*\}/g, (ref, at: number) => {
    const placeholder = `${prefix}${refs.push(ref) - 1}_`;
    const textStart = at - delta;
    delta += ref.length - placeholder.length;
    shifts.push([textStart + placeholder.length, delta]);
    return placeholder;
  });
  const placeholder = new RegExp(`${prefix}(\\d+)_`, 'g');
  return {
    text,
    restore: (s) => (refs.length === 0 ? s : s.replace(placeholder, (_, i: string) => refs[Number(i)]!)),
    sourceOffset: (offset) => {
      let shift = 0;
      for (const [end, d] of shifts) if (end <= offset) shift = d;
      return offset + shift;
    },
  };
}

/**
 * Expands every string scalar value of `doc` in place; `restore` undoes `protectReferences` first.
 * A scalar that fails keeps its original text; each failure is reported at its value's key path.
 */
export function expandEnvInYaml(doc: Document, env: NodeJS.ProcessEnv, restore: (s: string) => string = (s) => s): EnvIssue[] {
  const issues: EnvIssue[] = [];
  const walk = (node: unknown, path: KeyPath): void => {
    if (isAlias(node)) return; // its anchor is expanded where it is defined
    if (isMap(node)) {
      for (const pair of node.items) {
        if (isScalar(pair.key) && typeof pair.key.value === 'string') pair.key.value = restore(pair.key.value);
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        walk(pair.value, [...path, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => walk(item, [...path, index]));
    } else if (isScalar(node) && typeof node.value === 'string') {
      const original = restore(node.value);
      if (!original.includes('$')) return;
      const result = expandEnv(original, env);
      if (!result.ok) {
        node.value = original;
        for (const message of result.errors) issues.push({ path, message });
        return;
      }
      if (result.value === original) node.value = original;
      else node.value = node.type === Scalar.PLAIN ? retype(result.value) : result.value;
    }
  };
  walk(doc.contents as Node | null, []);
  return issues;
}
