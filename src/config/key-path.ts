/** A key path in the file: map keys as written, list indexes as numbers. */
export type KeyPath = Array<string | number>;
export interface SchemaIssue { path: KeyPath; message: string }

/** `farms[0].pool.max-conn`; the empty path is `(top level)`. */
export function formatKeyPath(path: KeyPath): string {
  if (path.length === 0) return '(top level)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
