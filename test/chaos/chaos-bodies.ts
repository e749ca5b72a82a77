import { createHash } from 'node:crypto';
import { Prng, subSeed } from './chaos-prng.js';

/**
 * The bytes of a body are a function of the request id, which side sends it and its length:
 * the client and the servers derive the same bytes independently, so a server can check a body
 * it received and a client can check a body it got without either trusting the other's header.
 * The stream never repeats a block, so a chunk sent twice or skipped changes the SHA-256.
 */
export function bodyBytes(rid: string, side: 'req' | 'resp', len: number): Buffer {
  const out = Buffer.allocUnsafe(len);
  const r = new Prng(subSeed(0x5eed, `${side}:${rid}`));
  let i = 0;
  for (; i + 4 <= len; i += 4) out.writeUInt32LE(r.u32(), i);
  if (i < len) {
    const last = r.u32();
    for (let k = 0; i < len; i++, k++) out[i] = (last >>> (8 * k)) & 0xff;
  }
  return out;
}

export function sha256(b: Buffer | Buffer[]): string {
  const h = createHash('sha256');
  for (const part of Array.isArray(b) ? b : [b]) h.update(part);
  return h.digest('hex');
}

/** Body lengths: mostly small, some medium, a few up to 1 MiB. */
export function bodyLength(r: Prng): number {
  return r.weighted<() => number>([
    [() => 0, 10],
    [() => r.int(1, 4096), 40],
    [() => r.int(4097, 65536), 30],
    [() => r.int(65537, 262144), 14],
    [() => r.int(262145, 1048576), 6],
  ])();
}
