import { parseArgs } from 'node:util';
import { formatIssues, loadConfigFile } from '../config/load-config.js';
import { readFileSync } from 'node:fs';

export const ADMIN_USAGE = `  admin servers [--json]   list every farm's servers: state, weight, checks
  admin drain|maint|ready FARM/SERVER
                          drain: no new requests, in-flight ones finish; maint: also closes
                          its connections and pauses its checks; ready: clears drain/maint
  admin weight FARM/SERVER N
                          set a server's weight (0-256; 0 = out of rotation)
        admin options: --admin URL (default: admin.bind of --config FILE, else
                       http://127.0.0.1:9900), --token-file FILE (default: admin.token-file
                       of --config FILE), --json (raw JSON answer)
`;

const DEFAULT_ADMIN = 'http://127.0.0.1:9900';

/** Thrown for anything the operator must fix; printed as one line, exit 1. */
class CliError extends Error {}

interface Target {
  base: string;
  token: string | null;
}

/**
 * `longhaul admin …`: a thin client of the admin API (src/admin). Exit codes: 0 done, 1 the
 * gateway refused or could not be reached (message says why), 2 usage error.
 */
export async function runAdminCli(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        admin: { type: 'string' },
        'token-file': { type: 'string' },
        config: { type: 'string', short: 'c' },
        json: { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    return usage((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [action, ref, extra, ...rest] = positionals;
  try {
    switch (action) {
      case 'servers': {
        if (ref !== undefined) return usage('admin servers takes no argument');
        const target = resolveTarget(values);
        const body = (await call(target, 'GET', '/servers')) as ServersJson;
        process.stdout.write(values.json ? JSON.stringify(body, null, 2) + '\n' : formatServers(body));
        return 0;
      }
      case 'drain':
      case 'maint':
      case 'ready':
      case 'weight': {
        const [farm, server] = splitRef(ref);
        if (!farm || !server) return usage(`admin ${action} needs FARM/SERVER`);
        let payload: Record<string, unknown>;
        if (action === 'weight') {
          if (extra === undefined || rest.length > 0) return usage('admin weight needs FARM/SERVER N');
          const n = Number(extra);
          if (!/^\d+$/.test(extra) || n > 256) return usage(`weight must be an integer from 0 to 256, got "${extra}"`);
          payload = { weight: n };
        } else {
          if (extra !== undefined) return usage(`admin ${action} takes FARM/SERVER only`);
          payload = { state: action };
        }
        const target = resolveTarget(values);
        const body = (await call(target, 'POST', `/servers/${encodeURIComponent(farm)}/${encodeURIComponent(server)}`, payload)) as { farm: string; server: ServerJson };
        const s = body.server;
        process.stdout.write(values.json ? JSON.stringify(body, null, 2) + '\n' : `${body.farm}/${s.name}: ${s.state} (admin ${s.admin}, weight ${s.weight}, ${s.active} in flight)\n`);
        return 0;
      }
      case 'help':
        process.stdout.write(`usage: longhaul admin <action> [options]\n${ADMIN_USAGE}`);
        return 0;
      case undefined:
        return usage('admin needs an action: servers, drain, maint, ready or weight');
      default:
        return usage(`unknown admin action: ${action}`);
    }
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`longhaul admin: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function splitRef(ref: string | undefined): [string | undefined, string | undefined] {
  const i = ref?.indexOf('/') ?? -1;
  if (!ref || i <= 0 || i === ref.length - 1 || ref.indexOf('/', i + 1) >= 0) return [undefined, undefined];
  return [ref.slice(0, i), ref.slice(i + 1)];
}

/** --admin / --token-file win; then the config file's admin section; then the default address. */
function resolveTarget(v: { admin?: string; 'token-file'?: string; config?: string }): Target {
  let base = v.admin ? normalizeBase(v.admin) : null;
  let tokenFile = v['token-file'] ?? null;
  if (v.config && (!base || !tokenFile)) {
    const r = loadConfigFile(v.config);
    if (!r.ok) throw new CliError(`${v.config}: ${r.issues.length} error(s)\n${formatIssues(r.issues)}`);
    const admin = r.config.admin;
    if (!admin) throw new CliError(`${v.config} has no admin section: the gateway runs no admin listener`);
    if (!base) {
      const h = admin.bind.host;
      // A wildcard bind is reached on loopback.
      const host = h === '0.0.0.0' ? '127.0.0.1' : h === '::' ? '::1' : h;
      base = `http://${host.includes(':') ? `[${host}]` : host}:${admin.bind.port}`;
    }
    tokenFile ??= admin.tokenFile;
  }
  let token: string | null = null;
  if (tokenFile) {
    try {
      token = (readFileSync(tokenFile, 'utf8').split(/\r?\n/)[0] ?? '').trim();
    } catch (err) {
      throw new CliError(`cannot read token file ${tokenFile}: ${(err as Error).message}`);
    }
    if (!token) throw new CliError(`token file ${tokenFile} is empty`);
  }
  return { base: base ?? DEFAULT_ADMIN, token };
}

function normalizeBase(admin: string): string {
  const withScheme = /^https?:\/\//.test(admin) ? admin : `http://${admin}`;
  try {
    const u = new URL(withScheme);
    return `${u.protocol}//${u.host}`;
  } catch {
    throw new CliError(`--admin ${admin} is not an address (expected http://host:port or host:port)`);
  }
}

async function call(target: Target, method: string, path: string, payload?: unknown): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(target.base + path, {
      method,
      headers: {
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: payload === undefined ? undefined : JSON.stringify(payload),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    throw new CliError(`the admin listener isn't reachable at ${target.base} (${why}); is the gateway running with an admin section, and is --admin right?`);
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* reported below */
  }
  if (res.status === 401) {
    const hint = target.token ? 'the token was refused: check --token-file against the gateway\'s admin.token-file' : 'this gateway needs a token: pass --token-file FILE (or --config with admin.token-file)';
    throw new CliError(`unauthorized (HTTP 401): ${hint}`);
  }
  if (!res.ok) {
    const msg = (body as { message?: string } | null)?.message ?? text.trim();
    throw new CliError(`${msg} (HTTP ${res.status})`);
  }
  if (body === null) throw new CliError(`${target.base}${path} did not answer JSON: is it a longhaul admin listener?`);
  return body;
}

interface ServerJson {
  name: string;
  address: string;
  state: string;
  admin: string;
  backup: boolean;
  weight: number;
  active: number;
  requests: number;
  health: { checks: number; last: { result: string; status: number | null; reason: string | null } | null } | null;
  reason: string | null;
}
interface ServersJson {
  farms: Array<{ name: string; servers: ServerJson[] }>;
}

function formatServers(body: ServersJson): string {
  const rows = [['FARM', 'SERVER', 'ADDRESS', 'STATE', 'ADMIN', 'WEIGHT', 'BACKUP', 'ACTIVE', 'REQUESTS', 'LAST CHECK', 'REASON']];
  for (const f of body.farms) {
    for (const s of f.servers) {
      const last = s.health?.last;
      const check = !s.health ? 'no checks' : !last ? 'pending' : last.result === 'fail' ? `fail: ${last.reason ?? ''}` : `${last.result} ${last.status ?? ''}`.trim();
      rows.push([f.name, s.name, s.address, s.state, s.admin, String(s.weight), s.backup ? 'yes' : 'no', String(s.active), String(s.requests), check, s.reason ?? '']);
    }
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ').trimEnd()).join('\n') + '\n';
}

function usage(problem: string): number {
  process.stderr.write(`longhaul admin: ${problem}\n\nusage: longhaul admin <action> [options]\n${ADMIN_USAGE}`);
  return 2;
}
