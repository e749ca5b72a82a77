// Client profiles, each bounded in time, each measured the same way: latencies of successful
// requests, timeouts/errors, backend handshakes (farm stats), proxy CPU and peak RSS.
import { performance } from 'node:perf_hooks';
import { keepAlivePool, keepAliveRequest, oneShot, type Outcome, type Target } from './client.js';
import type { Running } from './contenders.js';
import type { Farm } from './farm.js';
import { cpuSeconds, peakRssMiB, resetPeakRss } from './measure.js';

export interface Sizes {
  /** Wall time of the duration-bound profiles. */
  durationMs: number;
  /** Sequential Connection: close requests. */
  sequential: number;
  /** Idle time before the burst. */
  burstIdleMs: number;
  burstClients: number;
  keepAliveConnections: number;
  javaClients: number;
  timeoutMs: number;
}

export interface ProfileResult {
  ms: number[];
  timeouts: number;
  errors: number;
  /** First error seen, for the notes. */
  firstError: string | null;
  wallS: number;
  handshakes: number;
  farmRequests: number;
  cpuS: number;
  peakRssMiB: number;
  /** Profile was cut short (too many timeouts, or the process died). */
  aborted: string | null;
}

export interface Profile {
  name: string;
  describe(s: Sizes): string;
  run(ctx: Ctx): Promise<void>;
}

/** Handed to a profile: where to send, and where to record each outcome. */
export interface Ctx {
  target: Target;
  sizes: Sizes;
  record(o: Outcome): void;
  /** False once the profile should stop launching requests. */
  live(): boolean;
}

/** Stop launching new requests after this many timeouts in one profile: the contender is stalled. */
const MAX_TIMEOUTS = 3;

const POST_BODY = Buffer.alloc(1024, 'x');

function portAt(t: Target, i: number): number {
  return t.ports[i % t.ports.length]!;
}

async function untilDeadline(ctx: Ctx, deadline: number, one: () => Promise<Outcome>): Promise<void> {
  while (ctx.live() && performance.now() < deadline) ctx.record(await one());
}

export const PROFILES: Profile[] = [
  {
    name: 'keep-alive',
    describe: (s) => `${s.keepAliveConnections} undici keep-alive connections, GET /hello in a loop for ${s.durationMs / 1000} s`,
    async run(ctx) {
      const { target, sizes } = ctx;
      const pools = target.ports.map((p) => keepAlivePool(target, p, Math.ceil(sizes.keepAliveConnections / target.ports.length)));
      const deadline = performance.now() + sizes.durationMs;
      try {
        await Promise.all(
          Array.from({ length: sizes.keepAliveConnections }, (_, i) =>
            untilDeadline(ctx, deadline, () => keepAliveRequest(pools[i % pools.length]!, sizes.timeoutMs)),
          ),
        );
      } finally {
        await Promise.all(pools.map((p) => p.destroy().catch(() => {})));
      }
    },
  },
  {
    name: 'one-off close',
    describe: (s) => `${s.sequential} sequential GET /hello, each a new TLS connection with Connection: close`,
    async run(ctx) {
      for (let i = 0; i < ctx.sizes.sequential && ctx.live(); i++) {
        ctx.record(await oneShot(ctx.target, portAt(ctx.target, i), ctx.sizes.timeoutMs));
      }
    },
  },
  {
    name: 'java 12×POST',
    describe: (s) => `${s.javaClients} concurrent clients, each: new TLS connection, POST 1 KiB /echo with Connection: close, repeat, for ${s.durationMs / 1000} s`,
    async run(ctx) {
      const deadline = performance.now() + ctx.sizes.durationMs;
      let n = 0;
      await Promise.all(
        Array.from({ length: ctx.sizes.javaClients }, () =>
          untilDeadline(ctx, deadline, () => oneShot(ctx.target, portAt(ctx.target, n++), ctx.sizes.timeoutMs, 'POST', '/echo', POST_BODY)),
        ),
      );
    },
  },
  {
    name: 'burst 64',
    describe: (s) => `${s.burstIdleMs / 1000} s idle, then ${s.burstClients} Connection: close clients at once (GET /hello)`,
    async run(ctx) {
      // The idle wait happens in runProfile before measuring starts.
      await Promise.all(Array.from({ length: ctx.sizes.burstClients }, (_, i) => oneShot(ctx.target, portAt(ctx.target, i), ctx.sizes.timeoutMs).then((o) => ctx.record(o))));
    },
  },
];

export async function runProfile(profile: Profile, running: Running, farm: Farm, target: Target, sizes: Sizes): Promise<ProfileResult> {
  if (profile.name.startsWith('burst')) await new Promise((r) => setTimeout(r, sizes.burstIdleMs));
  const r: ProfileResult = { ms: [], timeouts: 0, errors: 0, firstError: null, wallS: 0, handshakes: 0, farmRequests: 0, cpuS: NaN, peakRssMiB: NaN, aborted: null };
  const pid = running.pid;
  if (pid !== null) resetPeakRss(pid);
  const cpu0 = pid !== null ? cpuSeconds(pid) : NaN;
  const farm0 = await farm.stats();
  const t0 = performance.now();
  const ctx: Ctx = {
    target,
    sizes,
    record(o) {
      if (o.ok) r.ms.push(o.ms);
      else {
        if (o.kind === 'timeout') r.timeouts++;
        else r.errors++;
        r.firstError ??= `${o.kind} ${o.detail}`;
      }
    },
    live() {
      const gone = running.exited();
      if (gone !== null) r.aborted ??= `proxy ${gone}`;
      else if (r.timeouts >= MAX_TIMEOUTS) r.aborted ??= `stopped after ${r.timeouts} timeouts`;
      return r.aborted === null;
    },
  };
  await profile.run(ctx);
  r.wallS = (performance.now() - t0) / 1000;
  const farm1 = await farm.stats();
  r.handshakes = farm1.handshakes - farm0.handshakes;
  r.farmRequests = farm1.requests - farm0.requests;
  if (pid !== null && running.exited() === null) {
    r.cpuS = cpuSeconds(pid) - cpu0;
    r.peakRssMiB = peakRssMiB(pid);
  }
  return r;
}
