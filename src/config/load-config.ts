/**
 * Loading a configuration file: YAML → environment substitution → schema → file references.
 * Every problem found is reported at once, each with its key path as written in the file.
 * A successful result is fully resolved (defaults applied, file paths absolute and readable) and
 * deeply frozen.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument, type Document } from 'yaml';
import { validateConfig } from './config-schema.js';
import type { ConfigIssue, GatewayConfig } from './config-types.js';
import { mergeLayers } from './config-merge.js';
import { expandEnvInYaml, protectReferences } from './env-expand.js';
import { formatKeyPath, type KeyPath, type SchemaIssue } from './key-path.js';

export type LoadResult = { ok: true; config: GatewayConfig } | { ok: false; issues: ConfigIssue[] };

/** One line per issue: `  <path>: <message>`. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
}

const isUnder = (path: KeyPath, prefix: KeyPath) => prefix.length <= path.length && prefix.every((p, i) => path[i] === p);

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A readable regular file, or why not. */
function fileProblem(file: string): string | null {
  try {
    if (!statSync(file).isFile()) return `not a regular file: ${file}`;
    accessSync(file, constants.R_OK);
    return null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `file not found: ${file}`;
    return `cannot read ${file}: ${code ?? String(err)}`;
  }
}

/** 1-based line and column of `offset` in `text`. */
function linePos(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, col: offset - lineStart + 1 };
}

/** Keys holding file paths, as patterns over the raw document (`*`: every list item). */
const FILE_KEYS: KeyPath[] = [
  ['listeners', '*', 'tls', 'cert'], ['listeners', '*', 'tls', 'key'],
  ['listeners', '*', 'tls', 'sni-certs', '*', 'cert'], ['listeners', '*', 'tls', 'sni-certs', '*', 'key'],
  ['farms', '*', 'tls', 'ca'], ['farms', '*', 'tls', 'cert'], ['farms', '*', 'tls', 'key'],
  ['admin', 'token-file'],
];

/** Every non-empty string at a FILE_KEYS position, with its concrete path and the object holding it. */
function fileRefs(data: unknown): Array<{ path: KeyPath; holder: Record<string, unknown>; key: string }> {
  const refs: Array<{ path: KeyPath; holder: Record<string, unknown>; key: string }> = [];
  const visit = (node: unknown, pattern: KeyPath, path: KeyPath): void => {
    if (typeof node !== 'object' || node === null) return;
    const [head, ...rest] = pattern;
    if (head === '*') {
      if (Array.isArray(node)) node.forEach((item, i) => visit(item, rest, [...path, i]));
      return;
    }
    if (Array.isArray(node) || typeof head !== 'string') return;
    const holder = node as Record<string, unknown>;
    if (rest.length > 0) visit(holder[head], rest, [...path, head]);
    else if (typeof holder[head] === 'string' && holder[head] !== '') refs.push({ path: [...path, head], holder, key: head });
  };
  for (const pattern of FILE_KEYS) visit(data, pattern, []);
  return refs;
}

const toConfigIssues = (issues: SchemaIssue[]): ConfigIssue[] =>
  issues.map((i) => ({ path: formatKeyPath(i.path), message: i.message }));

/** Offset in the text of the node at `path`, or of its nearest existing ancestor (a missing key). */
function offsetOf(doc: Document, path: KeyPath): number {
  for (let n = path.length; n > 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return node.range[0];
  }
  return 0;
}

/** Issues in the order their keys appear in the file. */
const inFileOrder = (doc: Document, issues: SchemaIssue[]): SchemaIssue[] =>
  issues.map((issue) => ({ issue, at: offsetOf(doc, issue.path) })).sort((a, b) => a.at - b.at).map((x) => x.issue);

/** A parsed, env-expanded file whose relative file paths are made absolute (against its own directory). */
type Parsed = { ok: true; data: Record<string, unknown>; doc: Document; envIssues: SchemaIssue[] } | { ok: false; issues: ConfigIssue[] };

function parseFile(text: string, env: NodeJS.ProcessEnv, baseDir: string): Parsed {
  const source = protectReferences(text);
  const doc = parseDocument(source.text, { prettyErrors: false, merge: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      issues: doc.errors.map((e) => {
        const { line, col } = linePos(text, source.sourceOffset(e.pos[0]));
        return { path: `line ${line}, column ${col}`, message: `YAML syntax error: ${source.restore(e.message)}` };
      }),
    };
  }
  const envIssues = expandEnvInYaml(doc, env, source.restore);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, issues: [{ path: 'YAML', message: (err as Error).message }] };
  }
  if (data === null || data === undefined) {
    return { ok: false, issues: [...toConfigIssues(envIssues), { path: '(top level)', message: 'the configuration is empty' }] };
  }
  if (typeof data !== 'object' || Array.isArray(data)) return { ok: true, data: data as Record<string, unknown>, doc, envIssues };
  // Relative file paths are relative to the file that holds them (an included file's to its own
  // directory), so they are made absolute here, before any merge.
  for (const { holder, key } of fileRefs(data)) holder[key] = resolve(baseDir, holder[key] as string);
  // `state-file` is relative to its file too, but need not exist yet (written at the first change).
  const top = data as Record<string, unknown>;
  if (typeof top['state-file'] === 'string' && top['state-file'] !== '') top['state-file'] = resolve(baseDir, top['state-file']);
  return { ok: true, data: data as Record<string, unknown>, doc, envIssues };
}

/**
 * `include:` (a path or a list of paths, relative to the including file): those files are read
 * (recursively: they may include others) and `data` is layered over them (config-merge.ts).
 * `chain`: the files being included, outermost first, to refuse a cycle. Issues in an included
 * file are reported at the `include[i]` key of the file that names it, with the file and its own
 * key path in the message.
 */
function applyIncludes(data: Record<string, unknown>, env: NodeJS.ProcessEnv, baseDir: string, chain: string[]): { data: unknown; issues: SchemaIssue[] } {
  if (!('include' in data)) return { data, issues: [] };
  const { include, ...own } = data;
  const list = typeof include === 'string' ? [include] : include;
  const at = (i: number): KeyPath => (typeof include === 'string' ? ['include'] : ['include', i]);
  if (!Array.isArray(list) || !list.every((x) => typeof x === 'string' && x !== '')) {
    return { data: own, issues: [{ path: ['include'], message: 'must be a file path or a list of file paths' }] };
  }
  const issues: SchemaIssue[] = [];
  let merged: unknown = {};
  list.forEach((rel: string, i) => {
    const file = resolve(baseDir, rel);
    if (chain.includes(file)) {
      issues.push({ path: at(i), message: `include cycle: ${[...chain.slice(chain.indexOf(file)), file].join(' → ')}` });
      return;
    }
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      issues.push({ path: at(i), message: code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${code ?? String(err)}` });
      return;
    }
    const p = parseFile(text, env, dirname(file));
    const inner = !p.ok ? p.issues : toConfigIssues(p.envIssues);
    for (const x of inner) issues.push({ path: at(i), message: `${file}: ${x.path}: ${x.message}` });
    if (!p.ok) return;
    if (typeof p.data !== 'object' || Array.isArray(p.data)) {
      issues.push({ path: at(i), message: `${file}: must be a mapping (a part of a configuration)` });
      return;
    }
    const nested = applyIncludes(p.data, env, dirname(file), [...chain, file]);
    for (const x of nested.issues) issues.push({ path: at(i), message: `${file}: ${formatKeyPath(x.path)}: ${x.message}` });
    merged = mergeLayers(merged, nested.data);
  });
  return { data: mergeLayers(merged, own), issues };
}

/**
 * `baseDir`: the directory relative file paths (and `include:` paths) in the config are resolved
 * against; `file`: the config's own absolute path, when it has one (include cycle detection).
 */
export function loadConfigText(text: string, env: NodeJS.ProcessEnv, baseDir: string, file?: string): LoadResult {
  const parsed = parseFile(text, env, baseDir);
  if (!parsed.ok) return parsed;
  const { doc, envIssues } = parsed;
  const included = typeof parsed.data === 'object' && !Array.isArray(parsed.data)
    ? applyIncludes(parsed.data, env, baseDir, file ? [file] : [])
    : { data: parsed.data, issues: [] };
  const data = included.data;

  const fileIssues: SchemaIssue[] = [];
  for (const { path, holder, key } of fileRefs(data)) {
    const problem = fileProblem(holder[key] as string);
    if (problem) fileIssues.push({ path, message: problem });
  }

  const result = validateConfig(data);
  // A value whose substitution failed is still its raw text; other complaints about it are noise.
  const issues = [...included.issues, ...envIssues, ...(result.ok ? [] : result.issues), ...fileIssues]
    .filter((i) => envIssues.includes(i) || !envIssues.some((e) => isUnder(i.path, e.path)));
  if (!result.ok || issues.length > 0) return { ok: false, issues: toConfigIssues(inFileOrder(doc, issues)) };
  return { ok: true, config: deepFreeze(result.config) };
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = code === 'ENOENT' ? 'config file not found' : `cannot read config file: ${code ?? String(err)}`;
    return { ok: false, issues: [{ path: abs, message }] };
  }
  return loadConfigText(text, env, dirname(abs), abs);
}
