/**
 * A farm server SIGKILLed (and restarted on its port) while clients send requests: retries and
 * redispatch must hide it from idempotent requests; non-idempotent ones may fail only with a 502
 * LH_NOT_REPLAYED (written, the server may have processed it) and are never sent twice.
 * Bounded in count and time; nothing is timed.
 */
import t, { type Test } from 'tap';
import type { FarmConfig } from '../../src/config/config-types.js';
import { silentLogger } from '../../src/core/logger.js';
import { oneShotRequest } from '../../src/demo/one-shot-client.js';
import { Gateway } from '../../src/main/gateway.js';
import { farmConfig, gatewayConfig, listenerConfig, serverConfig } from '../helpers/configs.js';
import { startKillableServer, type KillableServer } from '../helpers/killable-farm.js';
import { pkiFiles } from '../helpers/pki-files.js';

type Tap = Test;
const CLIENTS = 4;
const MAX_REQUESTS = 4000;
const DEADLINE_MS = 10_000;

interface Outcome {
  id: string;
  status: number;
  error: string | null;
  bodyOk: boolean;
}

async function setup(t: Tap, count: number, farm: Partial<FarmConfig> = {}) {
  const f = await pkiFiles();
  const servers: KillableServer[] = [];
  for (let i = 0; i < count; i++) {
    const s = await startKillableServer(`s${i + 1}`);
    t.teardown(() => s.close());
    servers.push(s);
  }
  const cfg = gatewayConfig(
    [listenerConfig('farm', f.gatewayCert, f.gatewayKey)],
    [farmConfig('farm', f.caFile, servers.map((s) => serverConfig(s.name, s.port, {}, { maxConn: 4 })), { balance: 'roundrobin', ...farm })],
  );
  const gw = await Gateway.start(cfg, silentLogger);
  t.teardown(() => gw.stop());
  return { gw, servers, port: gw.listeners[0]!.port, ca: f.pki.ca.certPem };
}

/** CLIENTS workers send requests until `stop` resolves (or the bounds are hit). */
async function load(port: number, ca: string, method: 'GET' | 'POST', tag: string, during: () => Promise<void>): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let stop = false;
  const deadline = Date.now() + DEADLINE_MS;
  let n = 0;
  const worker = async (w: number): Promise<void> => {
    while (!stop && Date.now() < deadline && n < MAX_REQUESTS) {
      const id = `${tag}-${w}-${n++}`;
      const body = method === 'POST' ? Buffer.from(`body of ${id}`) : undefined;
      try {
        const r = await oneShotRequest({ host: '127.0.0.1', port, path: method === 'POST' ? '/echo' : '/hello', method, body, ca, servername: 'localhost', headers: { 'x-request-id': id } });
        const err = r.headers['x-longhaul-error'];
        outcomes.push({ id, status: r.status, error: typeof err === 'string' ? err : null, bodyOk: r.status !== 200 || (body ? r.body.equals(body) : r.body.toString() === 'hello\n') });
      } catch (e) {
        outcomes.push({ id, status: 0, error: `client error: ${(e as Error).message}`, bodyOk: false });
      }
    }
  };
  const workers = Array.from({ length: CLIENTS }, (_, w) => worker(w));
  await during();
  stop = true;
  await Promise.all(workers);
  return outcomes;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Let traffic flow, kill+restart each server in turn, let traffic flow again. */
async function killEach(servers: KillableServer[]): Promise<void> {
  await pause(700);
  for (const s of servers) {
    await s.killAndRestart();
    await pause(700);
  }
}

function duplicates(lines: string[]): string[] {
  const seen = new Set<string>();
  const dup: string[] = [];
  for (const l of lines) {
    if (seen.has(l)) dup.push(l);
    seen.add(l);
  }
  return dup;
}

t.test('GETs while each of two servers is SIGKILLed and restarted: zero client errors', async (t) => {
  const { servers, port, ca, gw } = await setup(t, 2);
  const outcomes = await load(port, ca, 'GET', 'get', () => killEach(servers));
  const failed = outcomes.filter((o) => o.status !== 200 || !o.bodyOk);
  t.ok(outcomes.length >= 40, `clients sent ${outcomes.length} GETs`);
  t.same(failed, [], 'no client saw an error');
  t.same(servers.map((s) => s.generations), [2, 2], 'each server was killed and restarted once');
  for (const s of servers) t.ok(s.received().length > 0, `${s.name} served requests`);
  const retries = gw.farms.get('farm')!.servers.reduce((n, s) => n + s.counters.retries, 0);
  t.comment(`${outcomes.length} GETs, ${retries} retries`);
});

t.test('POSTs while each of two servers is SIGKILLed and restarted: never received twice, errors are 502 LH_NOT_REPLAYED', async (t) => {
  const { servers, port, ca } = await setup(t, 2);
  const outcomes = await load(port, ca, 'POST', 'post2', () => killEach(servers));
  const received = servers.flatMap((s) => s.received()).filter((l) => l.startsWith('POST '));
  t.ok(outcomes.length >= 40, `clients sent ${outcomes.length} POSTs`);
  t.same(duplicates(received), [], 'no server received a request twice');
  const failed = outcomes.filter((o) => o.status !== 200);
  t.same(
    failed.filter((o) => o.status !== 502 || o.error !== 'LH_NOT_REPLAYED'),
    [],
    'every failure is a 502 LH_NOT_REPLAYED (the request was written; the server may have processed it)',
  );
  t.same(outcomes.filter((o) => !o.bodyOk), [], 'every 200 carried its own body back');
  const receivedIds = new Set(received.map((l) => l.slice(5)));
  t.comment(`${outcomes.length} POSTs, ${failed.length} not replayed (${failed.filter((o) => receivedIds.has(o.id)).length} of them seen by the server)`);
});

t.test('POSTs while the only server is SIGKILLed and restarted: never received twice, errors are 502 LH_NOT_REPLAYED', async (t) => {
  const { servers, port, ca } = await setup(t, 1);
  const outcomes = await load(port, ca, 'POST', 'post1', () => killEach([servers[0]!, servers[0]!]));
  const received = servers[0]!.received().filter((l) => l.startsWith('POST '));
  t.ok(outcomes.length >= 20, `clients sent ${outcomes.length} POSTs`);
  t.equal(servers[0]!.generations, 3, 'killed and restarted twice');
  t.same(duplicates(received), [], 'the server never received a request twice');
  const failed = outcomes.filter((o) => o.status !== 200);
  t.same(
    failed.filter((o) => o.status !== 502 || o.error !== 'LH_NOT_REPLAYED'),
    [],
    'every failure is a 502 LH_NOT_REPLAYED; connect failures while it restarted were retried after a turn-around',
  );
  t.comment(`${outcomes.length} POSTs, ${failed.length} not replayed`);
});
