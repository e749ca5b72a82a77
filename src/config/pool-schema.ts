/** The `pool` section of a farm, and its per-server override. */
import { z } from 'zod';
import { duration, int } from './schema-scalars.js';

const poolFields = {
  'max-conn': int(1),
  'max-idle': int(0),
  'min-idle': int(0),
  'idle-timeout': duration(1),
  'proven-window': duration(0),
  'max-reuse': int(0),
  'max-age': duration(0),
  'purge-interval': duration(1),
  burst: z.enum(['adaptive', 'open'], { error: 'must be adaptive or open' }),
  /** HAProxy `maxqueue`: requests waiting for a connection to one server; 0 = unlimited. */
  'max-queue': int(0),
};
/** `max-idle` stays optional here: it defaults to the effective `max-conn` after the server override. */
export const farmPoolSchema = z.strictObject({
  'max-conn': poolFields['max-conn'].default(12),
  'max-idle': poolFields['max-idle'].optional(),
  'min-idle': poolFields['min-idle'].default(0),
  'idle-timeout': poolFields['idle-timeout'].prefault('290s'),
  'proven-window': poolFields['proven-window'].prefault('2s'),
  'max-reuse': poolFields['max-reuse'].default(0),
  'max-age': poolFields['max-age'].prefault(0),
  'purge-interval': poolFields['purge-interval'].prefault('5s'),
  burst: poolFields.burst.default('open'),
  'max-queue': poolFields['max-queue'].default(0),
});
export const serverPoolSchema = z.strictObject({
  'max-conn': poolFields['max-conn'].optional(),
  'max-idle': poolFields['max-idle'].optional(),
  'min-idle': poolFields['min-idle'].optional(),
  'idle-timeout': poolFields['idle-timeout'].optional(),
  'proven-window': poolFields['proven-window'].optional(),
  'max-reuse': poolFields['max-reuse'].optional(),
  'max-age': poolFields['max-age'].optional(),
  'purge-interval': poolFields['purge-interval'].optional(),
  burst: poolFields.burst.optional(),
  'max-queue': poolFields['max-queue'].optional(),
});
