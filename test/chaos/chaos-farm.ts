/**
 * A farm server for the chaos test: raw node:tls over a net.Server, with its own HTTP/1.1
 * framing so it can misbehave at exact points (node:https could not close after half a head).
 *
 * Per request, the client's recipe says which fault the FIRST arrival of that request id meets
 * (`x-chaos-fault`), so a retry elsewhere is served and a failure replays from its recipe.
 * In `chaos` mode the server also misbehaves on its own (its PRNG, seeded from the run seed):
 * closes idle keep-alive connections after a short while, writes an unsolicited response on an
 * idle connection, and `goAway()` stops it and starts it again on the same port.
 *
 * Everything it receives on /chaos/ is recorded in the shared ledger: arrivals per request id
 * (at-most-once, counted when the whole head was parsed) and every body it accepted, checked
 * against the bytes the client derived from the same request id (chaos-bodies.ts).
 *
 * Resets: `resetAndDestroy()` exists only on a TCP handle (a TLSSocket's is a TLSWrap, where
 * it throws ERR_INVALID_HANDLE_TYPE), so the server keeps the raw socket of every TLS socket and
 * resets that one, only while it is still connected; otherwise it destroys.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { bodyBytes, sha256 } from './chaos-bodies.js';
import { Prng, subSeed } from './chaos-prng.js';

export const SERVER_FAULTS = [
  'none',
  'close-after-head',
  'reset-after-head',
  'close-mid-upload',
  'partial-head',
  'close-mid-response',
  'reset-mid-response',
  'stall',
  'conn-close',
  'garbage',
] as const;
export type ServerFault = (typeof SERVER_FAULTS)[number];

export interface Arrival {
  server: string;
  method: string;
  idempotencyKey: boolean;
  /** The whole body arrived (its framing said it ended). */
  bodyComplete: boolean;
  /** The complete body was the one the client sent. */
  bodyOk: boolean | null;
  fault: ServerFault;
  /** The gateway's end of the connection (its local port) and this request's place on it. */
  port: number;
  nth: number;
}

/** What every server saw, shared by the farm; checked by the runner. */
export class Ledger {
  readonly arrivals = new Map<string, Arrival[]>();
  readonly violations: string[] = [];
  arrivalsOf(rid: string): Arrival[] {
    return this.arrivals.get(rid) ?? [];
  }
}

export type FarmMode = 'clean' | 'chaos';

export interface ChaosServerStats {
  connections: number;
  requests: number;
  faults: Record<string, number>;
  idleCloses: number;
  unsolicited: number;
  goAways: number;
}

/** How long an unsolicited response and a request may be "crossing on the wire" (loopback, loaded machine). */
const RACE_WINDOW_MS = 200;

interface Conn {
  tls: tls.TLSSocket;
  /** performance.now() when an unsolicited response was written since the last request head. */
  unsolicitedAt?: number;
  raw: net.Socket;
  /** A health-check connection (first request was not /chaos/): not part of any pool. */
  health: boolean;
  requests: number;
  timers: Set<NodeJS.Timeout>;
  /** The server closed it while idle: bytes racing the close are not read (not processed). */
  closed: boolean;
}

const MAX_HEAD = 64 * 1024;

export class ChaosServer {
  mode: FarmMode = 'clean';
  /** In chaos mode, also misbehave on idle connections (off for the server's own tests). */
  whims = true;
  port = 0;
  /**
   * Request ids whose head arrived on a connection the server had written an unsolicited
   * response on since its last request: that response and the request crossed on the wire, so
   * the gateway got it after sending the request and cannot tell it from the real answer (no
   * HTTP/1.1 intermediary can). Such a request getting the unsolicited response is the server's
   * fault, not cross-talk (chaos-run.ts counts it apart).
   */
  readonly racedRids = new Set<string>();
  readonly stats: ChaosServerStats = { connections: 0, requests: 0, faults: {}, idleCloses: 0, unsolicited: 0, goAways: 0 };
  readonly #conns = new Set<Conn>();
  readonly #ctx: tls.SecureContext;
  readonly #prng: Prng;
  #server: net.Server | null = null;

  constructor(
    readonly name: string,
    cert: string,
    key: string,
    seed: number,
    private readonly ledger: Ledger,
  ) {
    this.#ctx = tls.createSecureContext({ cert, key });
    this.#prng = new Prng(subSeed(seed, `server:${name}`));
  }

  async start(port = 0): Promise<void> {
    const server = net.createServer((raw) => this.#accept(raw));
    server.on('error', () => {});
    // The same port after goAway: another process may hold it a moment (TIME_WAIT is fine for a
    // listener with SO_REUSEADDR, which node sets); a few bounded tries.
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port, '127.0.0.1', () => {
            server.off('error', reject);
            resolve();
          });
        });
        break;
      } catch (err) {
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.#server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Stop listening and destroy every connection (a crash), then come back on the same port after `downMs`. */
  async goAway(downMs: number): Promise<void> {
    this.stats.goAways++;
    await this.#stop();
    await new Promise((r) => setTimeout(r, downMs));
    await this.start(this.port);
  }

  async close(): Promise<void> {
    await this.#stop();
  }

  /** Open connections that belong to the gateway's pools (health-check connections excluded). */
  poolSockets(): number {
    let n = 0;
    for (const c of this.#conns) if (!c.health && !c.tls.destroyed) n++;
    return n;
  }

  /** Cancel pending idle closes and unsolicited writes (switching to clean mode). */
  calm(): void {
    for (const c of this.#conns) {
      for (const t of c.timers) clearTimeout(t);
      c.timers.clear();
    }
  }

  async #stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    for (const c of this.#conns) this.#kill(c);
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  #kill(c: Conn): void {
    for (const t of c.timers) clearTimeout(t);
    c.timers.clear();
    c.tls.destroy();
    c.raw.destroy();
  }

  #reset(c: Conn): void {
    for (const t of c.timers) clearTimeout(t);
    c.timers.clear();
    // A TCP RST: only a connected raw socket has a TCP handle to reset.
    if (!c.raw.destroyed && c.raw.readyState === 'open') c.raw.resetAndDestroy();
    else c.raw.destroy();
    c.tls.destroy();
  }

  #later(c: Conn, ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      c.timers.delete(t);
      fn();
    }, ms);
    c.timers.add(t);
  }

  #accept(raw: net.Socket): void {
    raw.on('error', () => {});
    const sock = new tls.TLSSocket(raw, { isServer: true, secureContext: this.#ctx });
    const c: Conn = { tls: sock, raw, health: false, requests: 0, timers: new Set(), closed: false };
    this.#conns.add(c);
    this.stats.connections++;
    sock.on('error', () => {});
    sock.on('close', () => {
      for (const t of c.timers) clearTimeout(t);
      c.timers.clear();
      this.#conns.delete(c);
      raw.destroy();
    });
    sock.once('secure', () => {
      // A connection the gateway warmed (or is about to lease) meets the server's whims
      // before its first request too (issue 11 item 5: warm connections must be watched).
      if (this.mode === 'chaos' && this.whims) this.#maybeIdleWhim(c);
    });
    this.#serve(c);
  }

  /** On an idle connection in chaos mode: sometimes close it soon, rarely write an unsolicited response. */
  #maybeIdleWhim(c: Conn): void {
    const r = this.#prng;
    if (r.chance(0.12)) {
      this.#later(c, r.int(0, 40), () => {
        this.stats.idleCloses++;
        c.closed = true;
        c.tls.end();
      });
    } else if (r.chance(0.03)) {
      this.#later(c, r.int(0, 20), () => {
        this.stats.unsolicited++;
        c.unsolicitedAt = performance.now();
        c.tls.write('HTTP/1.1 200 OK\r\nx-chaos-rid: unsolicited\r\ncontent-length: 11\r\n\r\nunsolicited');
      });
    }
  }

  #serve(c: Conn): void {
    const sock = c.tls;
    let buf: Buffer = Buffer.alloc(0);
    type St =
      | { k: 'head' }
      | { k: 'body'; req: Req; chunked: boolean; left: number; chunkState: 'size' | 'data' | 'crlf' | 'trailers'; parts: Buffer[]; got: number }
      | { k: 'dead' };
    interface Req {
      method: string;
      path: string;
      headers: Map<string, string>;
      rid: string | null;
      fault: ServerFault;
      reqLen: number;
      respLen: number;
      respChunked: boolean;
      arrival: Arrival | null;
      arrivalNo: number;
    }
    let st: St = { k: 'head' };

    const die = (how: 'end' | 'reset' | 'stall'): void => {
      st = { k: 'dead' };
      buf = Buffer.alloc(0);
      if (how === 'end') sock.end();
      else if (how === 'reset') this.#reset(c);
    };

    const startBody = (req: Req): void => {
      const te = req.headers.get('transfer-encoding');
      const chunked = te !== undefined && /chunked/i.test(te);
      const cl = Number(req.headers.get('content-length') ?? 0);
      st = { k: 'body', req, chunked, left: chunked ? 0 : cl, chunkState: 'size', parts: [], got: 0 };
    };

    const onBodyDone = (req: Req, parts: Buffer[], got: number): void => {
      const received = Buffer.concat(parts, got);
      const receivedSha = sha256(received);
      if (req.arrival) {
        const expected = bodyBytes(req.rid!, 'req', req.reqLen);
        req.arrival.bodyComplete = true;
        req.arrival.bodyOk = got === req.reqLen && receivedSha === sha256(expected);
        if (!req.arrival.bodyOk) {
          this.ledger.violations.push(
            `server ${this.name} accepted a request body that is not the client's: rid ${req.rid} ${req.method} got ${got} bytes sha ${receivedSha.slice(0, 12)}, client sent ${req.reqLen} bytes sha ${sha256(expected).slice(0, 12)} (arrival ${req.arrivalNo})`,
          );
        }
      }
      respond(req, receivedSha);
    };

    const respond = (req: Req, receivedSha: string): void => {
      if (!req.rid) {
        // Health checks and anything else: a small 200, keep-alive.
        sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\n\r\nok\n');
        st = { k: 'head' };
        return;
      }
      const f = req.fault;
      if (f === 'stall') return die('stall');
      if (f === 'garbage') {
        sock.end('SSH-2.0-OpenSSH_9.2 chaos\r\n\x00\xff\r\n\r\n');
        st = { k: 'dead' };
        return;
      }
      const body = bodyBytes(req.rid, 'resp', req.respLen);
      const lines = [
        'HTTP/1.1 200 OK',
        `x-chaos-rid: ${req.rid}`,
        `x-chaos-server: ${this.name}`,
        `x-chaos-arrival: ${req.arrivalNo}`,
        `x-chaos-sha: ${sha256(body)}`,
        `x-chaos-req-sha: ${receivedSha}`,
        'content-type: application/octet-stream',
      ];
      // Echoed as Rails' RequestId middleware does: what lets the gateway see that a stray
      // answer desynchronised a connection (F8; the stray itself carries no id).
      const requestId = req.headers.get('x-request-id');
      if (requestId !== undefined) lines.push(`x-request-id: ${requestId}`);
      if (f === 'conn-close') lines.push('connection: close');
      let payload: Buffer;
      if (req.respChunked) {
        lines.push('transfer-encoding: chunked');
        const pieces: Buffer[] = [];
        for (let off = 0; off < body.length; ) {
          const n = Math.min(body.length - off, this.#prng.int(1, 65536));
          pieces.push(Buffer.from(`${n.toString(16)}\r\n`, 'latin1'), body.subarray(off, off + n), Buffer.from('\r\n'));
          off += n;
        }
        pieces.push(Buffer.from('0\r\n\r\n'));
        payload = Buffer.concat(pieces);
      } else {
        lines.push(`content-length: ${body.length}`);
        payload = body;
      }
      const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
      if (f === 'partial-head') {
        sock.end(head.subarray(0, Math.max(1, head.length >> 1)));
        st = { k: 'dead' };
        return;
      }
      if (f === 'close-mid-response' || f === 'reset-mid-response') {
        // Half the framed body: for a 0-byte CL body, the head only (still short for chunked).
        const part = payload.subarray(0, payload.length >> 1);
        st = { k: 'dead' };
        if (f === 'close-mid-response') sock.end(Buffer.concat([head, part]));
        else sock.write(Buffer.concat([head, part]), () => this.#reset(c));
        return;
      }
      sock.write(Buffer.concat([head, payload]));
      if (f === 'conn-close') return die('end');
      st = { k: 'head' };
      if (this.mode === 'chaos' && this.whims) this.#maybeIdleWhim(c);
    };

    const pump = (): void => {
      for (;;) {
        if (st.k === 'dead') {
          buf = Buffer.alloc(0);
          return;
        }
        if (st.k === 'head') {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buf.length > MAX_HEAD) die('end');
            return;
          }
          // A new request on this connection: whatever whim was pending is off.
          for (const t of c.timers) clearTimeout(t);
          c.timers.clear();
          const headText = buf.subarray(0, end).toString('latin1');
          buf = buf.subarray(end + 4);
          const [reqLine, ...hl] = headText.split('\r\n');
          const [method = '', path = ''] = (reqLine ?? '').split(' ');
          const headers = new Map<string, string>();
          for (const l of hl) {
            const i = l.indexOf(':');
            if (i > 0) headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
          }
          c.requests++;
          const rid = path.startsWith('/chaos/') ? (headers.get('x-chaos-rid') ?? null) : null;
          // Within RACE_WINDOW_MS only: later, a gateway that watches idle connections has read the
          // bytes and retired the connection, so a request arriving on it is the gateway's fault.
          if (c.unsolicitedAt !== undefined && rid && performance.now() - c.unsolicitedAt < RACE_WINDOW_MS) this.racedRids.add(rid);
          delete c.unsolicitedAt;
          if (c.requests === 1 && !rid) c.health = true;
          const [respLen = '0', respChunked = '0'] = (headers.get('x-chaos-resp') ?? '0;0').split(';');
          const req: Req = {
            method,
            path,
            headers,
            rid,
            fault: 'none',
            reqLen: Number(headers.get('x-chaos-req') ?? 0),
            respLen: Number(respLen),
            respChunked: respChunked === '1',
            arrival: null,
            arrivalNo: 0,
          };
          if (rid) {
            this.stats.requests++;
            const list = this.ledger.arrivals.get(rid) ?? [];
            this.ledger.arrivals.set(rid, list);
            const wanted = (headers.get('x-chaos-fault') ?? 'none') as ServerFault;
            // Only the first arrival meets the recipe's fault: a retry elsewhere is served.
            req.fault = this.mode === 'chaos' && list.length === 0 && SERVER_FAULTS.includes(wanted) ? wanted : 'none';
            req.arrival = { server: this.name, method, idempotencyKey: headers.has('idempotency-key'), bodyComplete: false, bodyOk: null, fault: req.fault, port: c.raw.remotePort ?? 0, nth: c.requests };
            list.push(req.arrival);
            req.arrivalNo = list.length;
            if (req.fault !== 'none') this.stats.faults[req.fault] = (this.stats.faults[req.fault] ?? 0) + 1;
          }
          if (req.fault === 'close-after-head') return die('end');
          if (req.fault === 'reset-after-head') return die('reset');
          startBody(req);
          continue;
        }
        // body
        const b = st;
        const midUpload = b.req.fault === 'close-mid-upload';
        const halfway = (): boolean => midUpload && b.got >= Math.max(1, b.req.reqLen >> 1);
        // Up to b.left body bytes from buf (a Content-Length body, or the data of one chunk).
        const takeData = (): void => {
          const take = Math.min(b.left, buf.length);
          if (take === 0) return;
          b.parts.push(Buffer.from(buf.subarray(0, take)));
          b.got += take;
          b.left -= take;
          buf = buf.subarray(take);
        };
        if (midUpload && b.req.reqLen === 0) return die('end');
        if (!b.chunked) {
          takeData();
          if (halfway()) return die('end');
          if (b.left > 0) return;
          onBodyDone(b.req, b.parts, b.got);
          continue;
        }
        if (b.chunkState === 'size') {
          const le = buf.indexOf('\r\n');
          if (le < 0) {
            if (buf.length > 1024) die('end');
            return;
          }
          const size = parseInt(buf.subarray(0, le).toString('latin1').split(';')[0]!, 16);
          buf = buf.subarray(le + 2);
          if (!Number.isFinite(size) || size < 0) return die('end');
          if (size === 0) b.chunkState = 'trailers';
          else {
            b.left = size;
            b.chunkState = 'data';
          }
          continue;
        }
        if (b.chunkState === 'data') {
          takeData();
          if (halfway()) return die('end');
          if (b.left > 0) return;
          b.chunkState = 'crlf';
          continue;
        }
        if (b.chunkState === 'crlf') {
          if (buf.length < 2) return;
          if (buf[0] !== 13 || buf[1] !== 10) return die('end');
          buf = buf.subarray(2);
          b.chunkState = 'size';
          continue;
        }
        // trailers: until an empty line
        const le = buf.indexOf('\r\n');
        if (le < 0) return;
        buf = buf.subarray(le + 2);
        if (le === 0) onBodyDone(b.req, b.parts, b.got);
      }
    };

    sock.on('data', (d: Buffer) => {
      if (st.k === 'dead' || c.closed) return;
      buf = buf.length === 0 ? d : Buffer.concat([buf, d]);
      pump();
    });
  }
}
