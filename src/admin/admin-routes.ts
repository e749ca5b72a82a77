import type { IncomingMessage, ServerResponse } from 'node:http';
import type { BackendServer } from '../balancer/backend-server.js';
import type { Farm } from '../balancer/farm.js';
import type { AdminState } from '../balancer/server-state.js';

/**
 * What the admin listener needs from a running gateway. Read through on every request (never
 * copied), so a config reload that replaces `farms` is seen at once.
 */
export interface AdminTarget {
  stats(): unknown;
  readonly farms: ReadonlyMap<string, Farm>;
  /** Latency histograms of the forwarder (/metrics). */
  readonly exchangeTimings?: { readonly all: readonly unknown[] } | undefined;
  /** Readiness (/ready): the client listeners open so far, how many the config has, stopping. */
  readonly listeners?: ReadonlyArray<{ readonly name: string }>;
  readonly config?: { readonly listeners: ReadonlyArray<{ readonly name: string }> };
  readonly stopping?: boolean;
}

/** A failed admin request: HTTP status + stable error code + a message for humans. */
export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const ADMIN_STATES: readonly AdminState[] = ['ready', 'drain', 'maint'];
const MAX_BODY = 4096;

/** The compact per-server view of `GET /servers` and of `POST` answers. */
export function serverView(s: BackendServer) {
  const snap = s.snapshot();
  const h = snap.health;
  return {
    name: snap.name,
    address: snap.address,
    state: snap.state,
    admin: snap.admin,
    backup: snap.backup,
    weight: snap.weight,
    active: snap.active,
    requests: snap.counters.requests,
    health: h
      ? {
          operational: h.operational,
          nolb: h.nolb,
          successes: h.successes,
          failures: h.failures,
          observedErrors: h.observedErrors,
          checks: h.checks?.checks ?? 0,
          last: h.checks?.last ?? null,
        }
      : null,
    reason: h ? h.lastReason : null,
  };
}

export function listServers(target: AdminTarget) {
  return { farms: [...target.farms.values()].map((f) => ({ name: f.name, servers: f.servers.map(serverView) })) };
}

export function findServer(target: AdminTarget, farmName: string, serverName: string): { farm: Farm; server: BackendServer } {
  const farm = target.farms.get(farmName);
  if (!farm) throw new AdminError(404, 'unknown_farm', `no farm named "${farmName}" (farms: ${[...target.farms.keys()].join(', ') || 'none'})`);
  const server = farm.servers.find((s) => s.name === serverName);
  if (!server) throw new AdminError(404, 'unknown_server', `no server named "${serverName}" in farm "${farmName}" (servers: ${farm.servers.map((s) => s.name).join(', ')})`);
  return { farm, server };
}

/**
 * `POST /servers/{farm}/{server}` with `{"state": "ready"|"drain"|"maint"}` and/or
 * `{"weight": 0..256}`. Validates everything before changing anything: a 400 changes nothing.
 */
export async function updateServer(target: AdminTarget, farmName: string, serverName: string, req: IncomingMessage, who: string) {
  const { farm, server } = findServer(target, farmName, serverName);
  const body = await readJson(req);
  const unknown = Object.keys(body).filter((k) => k !== 'state' && k !== 'weight');
  if (unknown.length > 0) throw new AdminError(400, 'bad_request', `unknown field(s) ${unknown.join(', ')}: send {"state": "ready|drain|maint"} and/or {"weight": 0-256}`);
  const { state, weight } = body;
  if (state === undefined && weight === undefined) throw new AdminError(400, 'bad_request', 'nothing to change: send {"state": "ready|drain|maint"} and/or {"weight": 0-256}');
  if (state !== undefined && !ADMIN_STATES.includes(state as AdminState)) {
    throw new AdminError(400, 'bad_state', `state must be one of: ${ADMIN_STATES.join(', ')}; got ${JSON.stringify(state)}`);
  }
  if (weight !== undefined && !(typeof weight === 'number' && Number.isInteger(weight) && weight >= 0 && weight <= 256)) {
    throw new AdminError(400, 'bad_weight', `weight must be an integer from 0 to 256; got ${JSON.stringify(weight)}`);
  }
  const reason = `admin API (${who})`;
  if (weight !== undefined) server.setWeight(weight as number, reason);
  if (state !== undefined) server.setAdminState(state as AdminState, `${reason}: ${state}`);
  return { farm: farm.name, server: serverView(server) };
}

export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new AdminError(413, 'body_too_large', `request body over ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AdminError(400, 'bad_json', `body is not JSON: send {"state": "drain"} or {"weight": 50}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AdminError(400, 'bad_json', 'body must be a JSON object');
  return value as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}, pretty = true): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body, null, pretty ? 2 : 0) + '\n');
}
