/**
 * The seeded chaos run (issue 11, "Prove it"): one in-process gateway (real TLS both sides) in
 * front of three chaos servers (chaos-farm.ts), driven by rounds of client connections
 * (chaos-client.ts) drawn from the seed (chaos-recipes.ts). Phase `clients` first (servers
 * behave: any move of a server's health is a client fault blamed on it), then phase `all`
 * (server faults, idle closes, unsolicited bytes, servers going away and coming back).
 *
 * Every violation is one line naming the seed, engine, phase, round, the invariant and the
 * connection's recipe. `CHAOS_SEED` (default 1) and `CHAOS_SECONDS` (per engine; default 25)
 * hunt longer; rounds are counted, and each round is bounded (connections, deadline per
 * connection, bounded waits), so a run always ends.
 */
import type { Test } from 'tap';
import type { Engine, FarmConfig } from '../../src/config/config-types.js';
import { createLogger, silentLogger } from '../../src/core/logger.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { pkiFiles } from '../helpers/pki-files.js';
import { bodyBytes, sha256 } from './chaos-bodies.js';
import { runConnection, type ConnOutcome, type ConnRecipe } from './chaos-client.js';
import { ChaosServer, Ledger } from './chaos-farm.js';
import { Prng, subSeed } from './chaos-prng.js';
import { knownRecipes, roundRecipes, type Phase } from './chaos-recipes.js';

/** CHAOS_CONNECTIONS changes it (the findings of FINDINGS.md were made with 24). */
const CONNECTIONS_PER_ROUND = Number(process.env.CHAOS_CONNECTIONS ?? 16);
const CONCURRENCY = 6;
const CONNECTION_DEADLINE_MS = 12_000;
const SERVERS = 3;

export interface ChaosSummary {
  seed: number;
  engine: Engine;
  rounds: Record<Phase, number>;
  connections: number;
  requests: number;
  ok2xx: number;
  gatewayErrors: Record<string, number>;
  clientKinds: Record<string, number>;
  serverFaults: Record<string, number>;
  idleCloses: number;
  unsolicited: number;
  /** Requests that got a server's unsolicited response because the two crossed on the wire (the server's fault: chaos-farm.ts racedRids). */
  unsolicitedRaces: number;
  /** Responses the gateway refused because they echoed another request's X-Request-Id (a desynced connection, F8). */
  desyncsRefused: number;
  /** Recipes not sent because they hit a documented gap of the engine (uws only). */
  skippedEngineGaps: Record<string, number>;
  goAways: number;
  /** Uploads the client aborted that a server had started to receive (the abort really was mid-upload). */
  abortedUploadsAtServers: number;
  violations: string[];
}

function bump(r: Record<string, number>, k: string, n = 1): void {
  r[k] = (r[k] ?? 0) + n;
}

async function until(cond: () => boolean, tries: number, everyMs = 25): Promise<boolean> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return cond();
}

function resourceCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) bump(out, r);
  return out;
}

/** The recipe as printed with a violation: only the fields its kind uses. */
function recipeText(rec: ConnRecipe): string {
  const { badHeader, rst, cut, delayMs, ...rest } = rec;
  const extra: Record<string, unknown> = {};
  if (rec.kind === 'bad-header') extra.badHeader = JSON.stringify(badHeader);
  if (rec.kind.startsWith('abort')) Object.assign(extra, { rst, cut });
  if (rec.kind === 'abort-upload' || rec.kind === 'slow-read' || rec.kind === 'slow-send') extra.delayMs = delayMs;
  return JSON.stringify({ ...rest, ...extra });
}

export async function runChaos(t: Test, engine: Engine): Promise<ChaosSummary> {
  const seed = Number(process.env.CHAOS_SEED ?? 1) >>> 0;
  const seconds = Number(process.env.CHAOS_SECONDS ?? 25);
  const summary: ChaosSummary = { seed, engine, rounds: { clients: 0, all: 0 }, connections: 0, requests: 0, ok2xx: 0, gatewayErrors: {}, clientKinds: {}, serverFaults: {}, idleCloses: 0, unsolicited: 0, unsolicitedRaces: 0, desyncsRefused: 0, skippedEngineGaps: {}, goAways: 0, abortedUploadsAtServers: 0, violations: [] };
  const v = summary.violations;
  const where = (phase: Phase, round: number) => `seed=${seed} engine=${engine} phase=${phase} round=${round < 0 ? 'known' : round}`;

  const only = process.env.CHAOS_ONLY ? new Set(process.env.CHAOS_ONLY.split(',')) : null;
  const inFlight = new Set<string>();
  const thrown: string[] = [];
  const flying = () => `(connections in flight: ${[...inFlight].join(' ')})`;
  const onUncaught = (err: unknown): void => void thrown.push(`uncaughtException ${flying()}: ${(err as Error)?.stack ?? String(err)}`);
  const onRejection = (err: unknown): void => void thrown.push(`unhandledRejection ${flying()}: ${(err as Error)?.stack ?? String(err)}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);

  const f = await pkiFiles();
  const baseline = resourceCounts();
  const ledger = new Ledger();
  const servers: ChaosServer[] = [];
  for (let i = 0; i < SERVERS; i++) {
    const s = new ChaosServer(`s${i + 1}`, f.pki.farm.certPem, f.pki.farm.keyPem, seed, ledger);
    await s.start();
    servers.push(s);
  }
  const farmOver: Partial<FarmConfig> = {
    balance: 'roundrobin',
    retries: 3,
    redispatch: true,
    retryOn: ['conn-failure', 'empty-response', 'junk-response', 'response-timeout'],
    replayBuffer: 256 * 1024,
    timeouts: { connect: 1000, server: 1500, queue: 4000 },
    health: { enabled: true, path: '/health', method: 'GET', expectStatus: 200, inter: 500, fastinter: 250, downinter: 250, rise: 1, fall: 2, disableOn404: false, timeout: 1000, observe: 'layer7', errorLimit: 5 },
  };
  const pool = { maxConn: 6, minIdle: 1 };
  const cfg = gatewayConfig(
    [listenerConfig('farm', f.gatewayCert, f.gatewayKey, { engine, timeouts: { client: 5000, httpRequest: 4000, httpKeepAlive: 3000 } })],
    [farmConfig('farm', f.caFile, servers.map((s) => serverConfig(s.name, s.port, {}, pool)), farmOver)],
  );
  // CHAOS_TRACE=<file>: the gateway's debug log (every attempt, every backend connection) for a finding.
  const gateway = await Gateway.start(cfg, process.env.CHAOS_TRACE ? createLogger('debug', { destination: `file:${process.env.CHAOS_TRACE}` }) : silentLogger);
  const farm = gateway.farms.get('farm')!;
  const listener = gateway.listeners[0]!;
  const target = { port: listener.port, ca: f.pki.ca.certPem, deadlineMs: CONNECTION_DEADLINE_MS };

  const poolTotals = () => {
    const tot = { open: 0, idle: 0, busy: 0, connecting: 0, queue: 0, active: 0 };
    for (const s of farm.servers) {
      tot.active += s.active;
      for (const p of s.pools()) {
        const snap = p.snapshot();
        tot.open += snap.open;
        tot.idle += snap.idle;
        tot.busy += snap.busy;
        tot.connecting += snap.connecting;
        tot.queue += snap.queue;
      }
    }
    return tot;
  };
  const farmSockets = () => servers.reduce((n, s) => n + s.poolSockets(), 0);

  /** After a round: every pool idle or closed, nothing queued or in flight, no client connection, no socket the pools do not know. */
  const quiesce = async (phase: Phase, round: number): Promise<void> => {
    const settled = () => {
      const p = poolTotals();
      return listener.stats().connections === 0 && p.busy === 0 && p.connecting === 0 && p.queue === 0 && p.active === 0 && p.open === p.idle && farmSockets() === p.open;
    };
    if (!(await until(settled, 320))) {
      const p = poolTotals();
      v.push(`${where(phase, round)} invariant=drain: after the round the gateway did not settle: client connections ${listener.stats().connections}, pools ${JSON.stringify(p)}, pool sockets seen by the servers ${farmSockets()}`);
    }
  };

  const allUp = () => farm.servers.every((s) => s.state === 'UP');

  const checkConnection = (phase: Phase, round: number, rec: ConnRecipe, o: ConnOutcome): void => {
    const bad = (inv: string, what: string) => v.push(`${where(phase, round)} invariant=${inv}: ${what} — recipe ${recipeText(rec)}`);
    summary.connections++;
    summary.requests += o.sent;
    bump(summary.clientKinds, rec.kind);
    if (o.timedOut) bad('liveness', `the gateway neither answered nor closed within ${CONNECTION_DEADLINE_MS} ms (responses ${o.responses.length}/${o.sent}, partial ${JSON.stringify(o.partial && { status: o.partial.status, got: o.partial.got })})`);
    if (o.junk) bad('framing', `the client got bytes that are not an HTTP/1.1 response: ${JSON.stringify(o.junk)}`);
    if (o.responses.length > o.sent) bad('cross-talk', `${o.responses.length} responses to ${o.sent} requests`);
    o.responses.forEach((resp, i) => {
      const q = rec.requests[i];
      if (!q) return;
      const rid = resp.headers.get('x-chaos-rid');
      const err = resp.headers.get('x-longhaul-error');
      // The stray answer crossed the request: the server read the request within the race window
      // after writing it, or never read it at all (the gateway destroyed that connection right
      // after taking the stray for an early answer, and the RST discarded the unread head). A
      // stray the gateway could have seen first fails the attempt not-written (http1-codec.ts:
      // bytes before the request head reached the socket) and is never forwarded.
      if (rid === 'unsolicited' && (servers.some((s) => s.racedRids.has(q.rid)) || ledger.arrivalsOf(q.rid).length === 0)) {
        summary.unsolicitedRaces++;
        return;
      }
      if (rid !== undefined && rid !== q.rid) bad('cross-talk', `request ${q.rid} got the response of ${rid} (status ${resp.status}, server ${String(resp.headers.get('x-chaos-server'))}, arrival ${String(resp.headers.get('x-chaos-arrival'))}); arrivals of ${q.rid}: ${arrivalsText(ledger, q.rid)}; of ${rid}: ${arrivalsText(ledger, rid)}`);
      if (resp.status >= 200 && resp.status < 300) {
        summary.ok2xx++;
        if (rec.kind === 'bad-header') bad('bad-header', `a request with header ${JSON.stringify(rec.badHeader)} got ${resp.status} (it must be refused with 400)`);
        if (rid !== q.rid) return bad('cross-talk', `request ${q.rid} got a ${resp.status} without its request id (x-chaos-rid ${String(rid)})`);
        const want = sha256(bodyBytes(q.rid, 'resp', q.respLen));
        const got = sha256(resp.body);
        if (resp.body.length !== q.respLen || got !== want) bad('response-body', `request ${q.rid} got ${resp.status} with ${resp.body.length} bytes sha ${got.slice(0, 12)}, the server sent ${q.respLen} bytes sha ${want.slice(0, 12)} (server ${String(resp.headers.get('x-chaos-server'))}, arrival ${String(resp.headers.get('x-chaos-arrival'))})`);
        if (resp.headers.get('x-chaos-sha') !== want) bad('response-body', `request ${q.rid}: the server's SHA-256 header ${String(resp.headers.get('x-chaos-sha')).slice(0, 12)} is not the body's ${want.slice(0, 12)}`);
        const sent = sha256(q.method === 'GET' ? Buffer.alloc(0) : bodyBytes(q.rid, 'req', q.reqLen));
        if (resp.headers.get('x-chaos-req-sha') !== sent) bad('request-body', `request ${q.rid} got ${resp.status} but the server received a body with sha ${String(resp.headers.get('x-chaos-req-sha')).slice(0, 12)}, the client sent ${q.reqLen} bytes sha ${sent.slice(0, 12)}`);
      } else {
        bump(summary.gatewayErrors, err ?? `${resp.status} (no x-longhaul-error)`);
        // Our servers only ever answer 200: anything else is the gateway's own answer.
        const frontRefusal = resp.status >= 400 && resp.status < 500 && (rec.kind === 'bad-header' || rec.kind === 'slow-send' || rec.kind === 'pipeline');
        if (!err && !frontRefusal) bad('provenance', `request ${q.rid} got ${resp.status} without x-longhaul-error`);
        if (rec.kind === 'bad-header' && resp.status !== 400) bad('bad-header', `a request with header ${JSON.stringify(rec.badHeader)} got ${resp.status}, not 400`);
      }
    });
    if (phase === 'clients') {
      // Servers behave: every request of a well-behaved client is served, byte-exact (checked above).
      const okAll = (n: number) => o.responses.slice(0, n).every((r) => r.status >= 200 && r.status < 300) && o.responses.length >= n;
      if ((rec.kind === 'good' || rec.kind === 'keepalive' || rec.kind === 'close') && !okAll(rec.requests.length))
        bad('liveness', `a well-behaved client with healthy servers got ${o.responses.map((r) => `${r.status}${r.headers.get('x-longhaul-error') ? `/${r.headers.get('x-longhaul-error')}` : ''}`).join(',') || 'no response'} for ${rec.requests.length} request(s) (closed by peer ${o.closedByPeer}, error ${String(o.error)})`);
    }
    if (rec.kind === 'pipeline' && !o.timedOut) {
      // Issue 11 item 7: serve pipelined requests in order, or answer the first and close; never drop one silently.
      // A response cut mid-body (a server fault after the head) ends the connection: that is the honest answer.
      if (o.responses.length === 0 && !o.partial) bad('pipelining', `${rec.requests.length} pipelined requests got no response at all (closed by peer ${o.closedByPeer}, error ${String(o.error)})`);
      else if (o.responses.length < rec.requests.length && !o.partial) {
        const last = o.responses[o.responses.length - 1]!;
        if (!/close/i.test(last.headers.get('connection') ?? '') && phase === 'clients')
          bad('pipelining', `${rec.requests.length} pipelined requests, ${o.responses.length} answered, and the last answer did not say Connection: close`);
      }
    }
  };

  /** After a round settled: what the servers saw. */
  const checkLedger = (phase: Phase, round: number, recs: ConnRecipe[]): void => {
    for (const rec of recs)
      for (const q of rec.requests) {
        const arrivals = ledger.arrivalsOf(q.rid);
        const bad = (inv: string, what: string) => v.push(`${where(phase, round)} invariant=${inv}: ${what} — recipe ${recipeText(rec)}`);
        if (q.method === 'POST' && !q.idempotencyKey && arrivals.length > 1) bad('at-most-once', `POST ${q.rid} without Idempotency-Key reached the servers ${arrivals.length} times (${arrivals.map((a) => `${a.server}${a.fault !== 'none' ? `/${a.fault}` : ''}`).join(', ')})`);
        else if (phase === 'clients' && arrivals.length > 1) bad('client-fault-retried', `${q.method} ${q.rid} reached the servers ${arrivals.length} times with healthy servers (${arrivals.map((a) => a.server).join(', ')}): a client fault was retried elsewhere`);
        if (rec.kind === 'abort-upload' && arrivals.some((a) => !a.bodyComplete)) summary.abortedUploadsAtServers++;
        if (rec.kind === 'bad-header' && arrivals.length > 0) bad('bad-header', `a request with header ${JSON.stringify(rec.badHeader)} reached server ${arrivals[0]!.server}`);
      }
  };

  const healthBefore = () => farm.servers.map((s) => JSON.stringify({ state: s.state, errors: s.counters.errors, r5xx: s.counters.responses['5xx'] ?? 0 }));
  const checkHealth = (round: number, before: string[]): void => {
    farm.servers.forEach((s, i) => {
      const snap = s.snapshot();
      const now = JSON.stringify({ state: s.state, errors: s.counters.errors, r5xx: s.counters.responses['5xx'] ?? 0 });
      if (now !== before[i] || (snap.health?.observedErrors ?? 0) !== 0)
        v.push(`${where('clients', round)} invariant=client-fault-blamed-on-server: with only clients misbehaving, server ${s.name} moved from ${before[i]} to ${now} (observed errors ${snap.health?.observedErrors ?? 0}, last reason ${JSON.stringify(snap.health?.lastReason ?? '')})`);
    });
  };

  const startedAt = Date.now();
  const clientsUntil = startedAt + seconds * 400;
  const allUntil = startedAt + seconds * 1000;
  try {
    for (const phase of ['clients', 'all'] as const) {
      for (const s of servers) s.mode = phase === 'all' ? 'chaos' : 'clean';
      const onlyRounds = only ? [...only].map((id) => new RegExp(`^${engine}-${phase}-r(\\d+)-`).exec(id)).filter((m) => m !== null).map((m) => Number(m[1])) : null;
      // Budget: a round starts only if a round as long as this phase's longest so far still fits
      // (the time decides how many rounds run, never whether one passes).
      let longestRound = 0;
      const fits = () => Date.now() + longestRound < (phase === 'clients' ? clientsUntil : allUntil);
      // Round -1: the connections of FINDINGS.md, replayed on every run (not with CHAOS_ONLY).
      for (let round = only ? 0 : -1; onlyRounds ? round <= Math.max(-1, ...onlyRounds) : round <= 0 || fits(); round++) {
        const roundStarted = Date.now();
        if (onlyRounds && !onlyRounds.includes(round)) continue;
        if (!(await until(allUp, 200))) v.push(`${where(phase, round)} invariant=health: servers not all UP before the round: ${farm.servers.map((s) => `${s.name}=${s.state}`).join(' ')}`);
        const before = healthBefore();
        // CHAOS_ONLY=<connection id>[,…] replays those connections of their rounds alone.
        const drawn = round < 0 ? knownRecipes(phase) : roundRecipes(seed, engine, phase, round, only ? Math.max(64, CONNECTIONS_PER_ROUND) : CONNECTIONS_PER_ROUND).filter((rec) => !only || only.has(rec.id));
        // The opt-in uws engine's documented gaps (README "Front engines", known gaps; findings
        // F4, F6) are not re-proven every run: those recipes are counted, not sent. The default
        // engine gets every recipe.
        const recs = drawn.filter((rec) => {
          const gap = engineGap(engine, rec);
          if (gap) summary.skippedEngineGaps[gap] = (summary.skippedEngineGaps[gap] ?? 0) + 1;
          return !gap;
        });
        const r = new Prng(subSeed(seed, `${engine}-${phase}-r${round}-servers`));
        // Phase `all`: sometimes one server goes away (every connection dies) and comes back on its port.
        const flap =
          phase === 'all' && round >= 0 && r.chance(0.5)
            ? (async () => {
                await new Promise((res) => setTimeout(res, r.int(0, 800)));
                await servers[r.int(0, SERVERS - 1)]!.goAway(r.int(50, 400));
              })()
            : Promise.resolve();
        let next = 0;
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            while (next < recs.length) {
              const rec = recs[next++]!;
              inFlight.add(rec.id);
              const o = await runConnection(target, rec);
              inFlight.delete(rec.id);
              checkConnection(phase, round, rec, o);
            }
          }),
        );
        await flap;
        await quiesce(phase, round);
        checkLedger(phase, round, recs);
        if (phase === 'clients') checkHealth(round, before);
        if (round >= 0) summary.rounds[phase]++;
        longestRound = Math.max(longestRound, Date.now() - roundStarted);
        if (v.length > 200) break;
      }
      for (const s of servers) {
        s.mode = 'clean';
        s.calm();
      }
    }
  } finally {
    for (const s of servers) {
      for (const [k, n] of Object.entries(s.stats.faults)) bump(summary.serverFaults, k, n);
      summary.idleCloses += s.stats.idleCloses;
      summary.unsolicited += s.stats.unsolicited;
      summary.goAways += s.stats.goAways;
    }
    v.push(...ledger.violations.map((x) => `seed=${seed} engine=${engine} invariant=request-body: ${x}`));
    for (const s of farm.servers) summary.desyncsRefused += s.counters.errors['LH_RESPONSE_MISMATCH'] ?? 0;
    await gateway.stop();
    for (const s of servers) await s.close();
    // No socket, server or timer outlives the run (the gateway's and ours).
    const leaked = () => {
      const now = resourceCounts();
      return ['TCPSocketWrap', 'TCPServerWrap', 'TLSWrap', 'Timeout'].filter((k) => (now[k] ?? 0) > (baseline[k] ?? 0)).map((k) => `${k} ${now[k]} > ${baseline[k] ?? 0}`);
    };
    if (!(await until(() => leaked().length === 0, 200))) v.push(`seed=${seed} engine=${engine} invariant=leak: after stop, handles remain above the baseline: ${leaked().join(', ')}`);
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
    v.push(...thrown.map((x) => `seed=${seed} engine=${engine} invariant=no-throw: ${x.replace(/\n\s*/g, ' | ')}`));
  }
  t.comment(`chaos ${engine} seed ${seed}: ${JSON.stringify({ ...summary, violations: summary.violations.length })}`);
  return summary;
}

/** Where a request arrived: server/fault@gateway-port#nth-request-on-that-connection. */
function arrivalsText(ledger: Ledger, rid: string): string {
  return ledger.arrivalsOf(rid).map((a) => `${a.server}${a.fault !== 'none' ? `/${a.fault}` : ''}@${a.port}#${a.nth}`).join(', ') || 'none';
}

/** `{ invariant: "N× first violation" }`: what a failing run prints in its diff. */
export function violationsByInvariant(violations: string[]): Record<string, string> {
  const by = new Map<string, string[]>();
  for (const line of violations) {
    const k = /invariant=([a-z-]+)/.exec(line)?.[1] ?? 'other';
    by.set(k, [...(by.get(k) ?? []), line]);
  }
  return Object.fromEntries([...by].map(([k, lines]) => [k, `${lines.length}× e.g. ${lines[0]!.replace(/\n\s*/g, ' | ').slice(0, 1500)}`]));
}

/** A recipe that hits a documented gap of the opt-in uws engine (README "Front engines"), or null. */
function engineGap(engine: string, rec: ConnRecipe): string | null {
  if (engine !== 'uws') return null;
  if (rec.kind === 'pipeline') return 'uws drops pipelined requests (F4)';
  if (rec.badHeader.startsWith(':')) return 'uws hides an empty header name (F6)';
  return null;
}
