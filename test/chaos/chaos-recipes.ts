/**
 * Recipes: what each client connection of a round does, drawn from the seed alone, so a failure
 * printed with its seed, engine, phase and round replays the same requests (the interleaving of
 * concurrent connections is the scheduler's, not the seed's).
 */
import { bodyLength } from './chaos-bodies.js';
import type { ConnRecipe, ClientKind, ReqRecipe } from './chaos-client.js';
import { SERVER_FAULTS, type ServerFault } from './chaos-farm.js';
import { Prng, subSeed } from './chaos-prng.js';

/** `clients`: servers behave, only clients misbehave (a client fault must never move a server's health). `all`: both. */
export type Phase = 'clients' | 'all';

/** Header lines every HTTP/1.1 parser must refuse (RFC 9110 §5.1, §5.5; RFC 9112 §5.1). */
export const BAD_HEADERS = [
  'x-del: a\x7fb', // DEL in a value (issue 11 item 2)
  'x-nul: a\x00b', // NUL in a value
  ': empty-name', // empty field name (issue 11 item 7)
  'x-space-before-colon : v', // whitespace between name and colon
  'x bad name: v', // space in a name
  'x-cr: a\rb', // bare CR in a value
] as const;

const KINDS: ReadonlyArray<readonly [ClientKind, number]> = [
  ['good', 30],
  ['keepalive', 14],
  ['close', 8],
  ['abort-upload', 9],
  ['abort-download', 9],
  ['slow-read', 4],
  ['slow-send', 6],
  ['pipeline', 9],
  ['bad-header', 6],
];

/** Server faults a request may carry in phase `all` (the first arrival meets it). */
const FAULTS: ReadonlyArray<readonly [ServerFault, number]> = [
  ['none', 50],
  ...SERVER_FAULTS.filter((f) => f !== 'none' && f !== 'stall').map((f) => [f, 5] as const),
  ['stall', 2],
];

function request(r: Prng, rid: string, phase: Phase, small: boolean): ReqRecipe {
  const method = r.weighted<ReqRecipe['method']>([
    ['GET', 40],
    ['PUT', 30],
    ['POST', 30],
  ]);
  const len = (): number => (small ? r.int(0, 4096) : bodyLength(r));
  return {
    rid,
    method,
    idempotencyKey: method === 'POST' && r.chance(0.5),
    reqLen: method === 'GET' ? 0 : len(),
    reqChunked: method !== 'GET' && r.chance(0.5),
    respLen: len(),
    respChunked: r.chance(0.4),
    fault: phase === 'all' ? r.weighted(FAULTS) : 'none',
  };
}

export function roundRecipes(seed: number, engine: string, phase: Phase, round: number, connections: number): ConnRecipe[] {
  const out: ConnRecipe[] = [];
  for (let c = 0; c < connections; c++) {
    const id = `${engine}-${phase}-r${round}-c${c}`;
    const r = new Prng(subSeed(seed, id));
    const kind = r.weighted(KINDS);
    const n = kind === 'keepalive' ? r.int(2, 4) : kind === 'close' ? r.int(1, 3) : kind === 'pipeline' ? r.int(2, 3) : 1;
    const requests = Array.from({ length: n }, (_, i) => request(r, `${id}-q${i}`, phase, kind === 'pipeline' || kind === 'bad-header'));
    const rec: ConnRecipe = { id, kind, requests, close: kind === 'close' || (kind === 'good' && r.chance(0.3)), pieces: r.int(1, 4), delayMs: 0, cut: 0, badHeader: '', rst: r.chance(0.5) };
    const q = requests[0]!;
    switch (kind) {
      case 'abort-upload':
        q.method = r.chance(0.5) ? 'PUT' : 'POST';
        q.reqLen = r.int(16 * 1024, 512 * 1024);
        q.reqChunked = r.chance(0.5);
        rec.cut = 0.1 + 0.8 * r.float();
        rec.delayMs = r.int(5, 60);
        break;
      case 'abort-download':
        q.respLen = r.int(64 * 1024, 1024 * 1024);
        rec.cut = r.int(1, q.respLen >> 1);
        break;
      case 'slow-read':
        // Longer than the farm's timeouts.server: the server is not silent, the client is slow.
        // 2-4 MiB, more than loopback's socket buffers absorb (tcp_rmem 128 KiB default, wmem
        // growing to 4 MiB): the gateway really has to hold the server back.
        Object.assign(q, { method: 'GET', idempotencyKey: false, reqLen: 0, reqChunked: false });
        q.respLen = r.int(2 * 1024 * 1024, 4 * 1024 * 1024);
        rec.delayMs = 2500;
        break;
      case 'slow-send':
        if (q.method === 'GET') q.method = 'PUT';
        q.reqLen = r.int(1024, 64 * 1024);
        rec.pieces = r.int(4, 8);
        rec.delayMs = r.int(60, 150);
        break;
      case 'bad-header':
        rec.badHeader = r.pick(BAD_HEADERS);
        break;
    }
    out.push(rec);
  }
  return out;
}

/**
 * Connections that broke an invariant on main (test/chaos/FINDINGS.md), by the seed that drew
 * them: every run replays them first, in their phase, on both engines (a recipe does not depend
 * on the engine), so a fix is checked against its own recipe whatever the seed.
 */
const KNOWN: ReadonlyArray<readonly [number, string, string]> = [
  [1, 'uws-all-r0-c12', 'F1 retried body corrupted'],
  [2, 'node-all-r1-c21', 'F1 retried body corrupted'],
  [1, 'node-all-r0-c22', 'F2 undici assert(!this.paused) uncaught'],
  [1, 'node-clients-r0-c2', 'F3/F7 abort mid-upload'],
  [1, 'uws-clients-r1-c0', 'F4 pipelined GET + chunked PUT'],
  [2, 'uws-clients-r2-c13', 'F6 empty header name'],
];

export function knownRecipes(phase: Phase): ConnRecipe[] {
  const out: ConnRecipe[] = [];
  for (const [seed, id] of KNOWN) {
    const m = /^(\w+)-(clients|all)-r(\d+)-c\d+$/.exec(id)!;
    if (m[2] !== phase) continue;
    const rec = roundRecipes(seed, m[1]!, phase, Number(m[3]), 64).find((r) => r.id === id)!;
    // Fresh ids (unique in the ledger); the bytes follow the request id, the recipe is the same.
    out.push({ ...rec, id: `known-${id}`, requests: rec.requests.map((q) => ({ ...q, rid: `known-${q.rid}` })) });
  }
  return out;
}
