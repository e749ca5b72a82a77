/**
 * The whole file as written (kebab-case keys, every default applied, unknown keys rejected),
 * assembled from the section schemas, and the types of its parsed output.
 */
import { z } from 'zod';
import { adminSchema, logSchema } from './admin-log-schema.js';
import { farmSchema } from './farm-schema.js';
import { listenerSchema } from './listener-schema.js';
import { duration, filePath, need } from './schema-scalars.js';

export const fileSchema = z.strictObject({
  listeners: z.array(listenerSchema, { error: need('must be a list of listeners') }).min(1, { error: 'must list at least one listener' }),
  /** Present (even empty or null) enables the admin endpoint. */
  admin: adminSchema.nullable().optional(),
  log: logSchema.prefault({}),
  'shutdown-grace': duration().prefault('30s'),
  /** HAProxy's server-state-file: admin weights and states across restarts (src/main/state-file.ts). May not exist yet. */
  'state-file': filePath().nullable().default(null),
  farms: z.array(farmSchema, { error: need('must be a list of farms') }).min(1, { error: 'must list at least one farm' }),
}, { error: (iss) => (iss.code === 'invalid_type' ? 'the configuration must be a mapping with listeners and farms' : undefined) });

export type FileConfig = z.output<typeof fileSchema>;
export type FileFarm = FileConfig['farms'][number];
export type FilePool = FileFarm['pool'];
export type FileServerPool = NonNullable<FileFarm['servers'][number]['pool']>;
