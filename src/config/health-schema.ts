/** The `health` section of a farm (active health checks, passive observation). */
import { z } from 'zod';
import { bool, duration, int, need, oneOf } from './schema-scalars.js';

const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const healthSchema = z.strictObject({
  path: z.string({ error: need('must be a string') }).startsWith('/', { error: 'must start with /' }).default('/health'),
  method: z.string({ error: need('must be a string') }).regex(HTTP_TOKEN, { error: 'must be an HTTP method token' }).default('GET'),
  'expect-status': int(100, 599).default(200),
  inter: duration().prefault('2s'),
  /** Absent: `inter` (HAProxy's documented default for both; issue 12 item 10). Resolved in to-gateway-config.ts. */
  fastinter: duration().optional(),
  downinter: duration().optional(),
  rise: int(1).default(2),
  fall: int(1).default(3),
  'disable-on-404': bool().default(false),
  timeout: duration().optional(),
  observe: oneOf(['none', 'layer4', 'layer7']).default('none'),
  'error-limit': int(1).default(10),
});
