/**
 * The configuration file's schema: kebab-case keys as written in YAML, every default applied,
 * unknown keys rejected. Validation runs entirely on the kebab-case shape, so every issue path is
 * a path in the file; only a fully valid document is mapped to the camelCase `GatewayConfig`.
 *
 * Cross-field rules (unique names, listener → farm references, pool limits, cert/key pairs, bind
 * clashes) run even when other fields failed, so one pass reports every problem. They read the
 * partially parsed tree defensively and skip any comparison whose operands are themselves invalid
 * (those are already reported).
 *
 * Pieces: section schemas (listener-schema.ts, farm-schema.ts, pool-schema.ts, health-schema.ts,
 * admin-log-schema.ts) built from schema-scalars.ts and host-port.ts, assembled in file-schema.ts;
 * cross-checks.ts; to-gateway-config.ts; schema-issues.ts.
 */
import type { GatewayConfig } from './config-types.js';
import { crossChecks } from './cross-checks.js';
import { fileSchema } from './file-schema.js';
import type { SchemaIssue } from './key-path.js';
import { errorMap, toSchemaIssues } from './schema-issues.js';
import { toGatewayConfig } from './to-gateway-config.js';

export { formatKeyPath, type KeyPath, type SchemaIssue } from './key-path.js';
export { isHostName, parseHostPort } from './host-port.js';

export const configSchema = fileSchema.superRefine(crossChecks, { when: () => true }).transform(toGatewayConfig);

export type SchemaResult = { ok: true; config: GatewayConfig } | { ok: false; issues: SchemaIssue[] };

/** Validates plain data (parsed YAML) and resolves it to a `GatewayConfig`; file paths are left as written. */
export function validateConfig(data: unknown): SchemaResult {
  const r = configSchema.safeParse(data, { error: errorMap });
  return r.success ? { ok: true, config: r.data } : { ok: false, issues: toSchemaIssues(r.error.issues) };
}
