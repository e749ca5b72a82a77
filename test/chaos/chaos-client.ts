/**
 * Chaos clients: raw TLS sockets that speak HTTP/1.1 by hand so they can misbehave at exact
 * points (abort mid-upload or mid-download, read slowly, send slowly, pipeline, send bad
 * headers), and well-behaved ones (one request, keep-alive sequences, Connection: close).
 * Every connection ends by a hard deadline: a run always ends.
 */
import net from 'node:net';
import tls from 'node:tls';
import { bodyBytes } from './chaos-bodies.js';
import type { ServerFault } from './chaos-farm.js';

export interface ReqRecipe {
  rid: string;
  method: 'GET' | 'PUT' | 'POST';
  idempotencyKey: boolean;
  reqLen: number;
  reqChunked: boolean;
  respLen: number;
  respChunked: boolean;
  fault: ServerFault;
}

export const CLIENT_KINDS = ['good', 'keepalive', 'close', 'abort-upload', 'abort-download', 'slow-read', 'slow-send', 'pipeline', 'bad-header'] as const;
export type ClientKind = (typeof CLIENT_KINDS)[number];

export interface ConnRecipe {
  id: string;
  kind: ClientKind;
  requests: ReqRecipe[];
  /** `Connection: close` on the last request. */
  close: boolean;
  /** Number of writes the body is split into (good clients) or pieces (slow-send). */
  pieces: number;
  /** slow-send: gap between pieces; slow-read: how long the client does not read; abort: delay before it aborts. */
  delayMs: number;
  /** abort-upload: fraction of the body sent; abort-download: bytes of body read before the abort. */
  cut: number;
  /** bad-header: the raw header line. */
  badHeader: string;
  /** abort-*: end with a TCP RST instead of a FIN. */
  rst: boolean;
}

export interface ParsedResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

export interface ConnOutcome {
  responses: ParsedResponse[];
  /** Body bytes of a response whose head arrived and whose body did not complete. */
  partial: { status: number; headers: Map<string, string>; got: number } | null;
  /** Requests actually put on the wire (complete or not). */
  sent: number;
  /** The gateway closed (FIN or RST) before we were done. */
  closedByPeer: boolean;
  error: string | null;
  /** The hard deadline ended it: the gateway neither answered nor closed. */
  timedOut: boolean;
  /** Bytes the response parser could not read as HTTP/1.1. */
  junk: string | null;
}

/** Incremental HTTP/1.1 response parser (no HEAD requests are sent). */
class ResponseReader {
  readonly done: ParsedResponse[] = [];
  junk: string | null = null;
  #buf: Buffer = Buffer.alloc(0);
  #cur: { status: number; headers: Map<string, string>; parts: Buffer[]; got: number; mode: 'cl' | 'chunked' | 'eof'; left: number; cs: 'size' | 'data' | 'crlf' | 'trailers' } | null = null;

  get current(): { status: number; headers: Map<string, string>; got: number } | null {
    return this.#cur;
  }

  feed(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    this.#pump();
  }

  /** EOF: a body read until close is complete now. */
  end(): void {
    const c = this.#cur;
    if (c && c.mode === 'eof') this.#finish();
  }

  #finish(): void {
    const c = this.#cur!;
    this.done.push({ status: c.status, headers: c.headers, body: Buffer.concat(c.parts, c.got) });
    this.#cur = null;
  }

  #take(n: number): void {
    const c = this.#cur!;
    const k = Math.min(n, this.#buf.length);
    if (k > 0) {
      c.parts.push(Buffer.from(this.#buf.subarray(0, k)));
      c.got += k;
      this.#buf = this.#buf.subarray(k);
    }
  }

  #pump(): void {
    for (;;) {
      if (this.junk) return;
      const c = this.#cur;
      if (!c) {
        if (this.#buf.length === 0) return;
        const end = this.#buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (this.#buf.length > 65536 || !/^(H(T(T(P(\/(1(\.)?)?)?)?)?)?)?$/.test(this.#buf.subarray(0, 7).toString('latin1'))) this.junk = this.#buf.subarray(0, 60).toString('latin1');
          return;
        }
        const lines = this.#buf.subarray(0, end).toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
        if (!m) {
          this.junk = (lines[0] ?? '').slice(0, 60);
          return;
        }
        this.#buf = this.#buf.subarray(end + 4);
        const status = Number(m[1]);
        const headers = new Map<string, string>();
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          if (i > 0) headers.set(l.slice(0, i).toLowerCase(), l.slice(i + 1).trim());
        }
        if (status >= 100 && status < 200) continue;
        const te = headers.get('transfer-encoding');
        const cl = headers.get('content-length');
        const mode = status === 204 || status === 304 ? 'cl' : te && /chunked/i.test(te) ? 'chunked' : cl !== undefined ? 'cl' : 'eof';
        this.#cur = { status, headers, parts: [], got: 0, mode, left: mode === 'cl' && status !== 204 && status !== 304 ? Number(cl ?? 0) : 0, cs: 'size' };
        if (mode === 'cl' && this.#cur.left === 0) this.#finish();
        continue;
      }
      if (c.mode === 'eof') {
        this.#take(this.#buf.length);
        return;
      }
      if (c.mode === 'cl') {
        const before = c.got;
        this.#take(c.left);
        c.left -= c.got - before;
        if (c.left > 0) return;
        this.#finish();
        continue;
      }
      if (c.cs === 'size') {
        const le = this.#buf.indexOf('\r\n');
        if (le < 0) return;
        const size = parseInt(this.#buf.subarray(0, le).toString('latin1').split(';')[0]!, 16);
        this.#buf = this.#buf.subarray(le + 2);
        if (!Number.isFinite(size)) {
          this.junk = 'bad chunk size';
          return;
        }
        if (size === 0) c.cs = 'trailers';
        else {
          c.left = size;
          c.cs = 'data';
        }
        continue;
      }
      if (c.cs === 'data') {
        const before = c.got;
        this.#take(c.left);
        c.left -= c.got - before;
        if (c.left > 0) return;
        c.cs = 'crlf';
        continue;
      }
      if (c.cs === 'crlf') {
        if (this.#buf.length < 2) return;
        this.#buf = this.#buf.subarray(2);
        c.cs = 'size';
        continue;
      }
      const le = this.#buf.indexOf('\r\n');
      if (le < 0) return;
      this.#buf = this.#buf.subarray(le + 2);
      if (le === 0) this.#finish();
    }
  }
}

export function requestHead(r: ReqRecipe, close: boolean, extra = ''): string {
  let h = `${r.method} /chaos/${r.rid} HTTP/1.1\r\nhost: farm.test\r\nx-chaos-rid: ${r.rid}\r\nx-chaos-resp: ${r.respLen};${r.respChunked ? 1 : 0}\r\nx-chaos-fault: ${r.fault}\r\nx-chaos-req: ${r.reqLen}\r\n`;
  if (r.idempotencyKey) h += `idempotency-key: ${r.rid}\r\n`;
  if (r.method !== 'GET') h += r.reqChunked ? 'transfer-encoding: chunked\r\n' : `content-length: ${r.reqLen}\r\n`;
  if (close) h += 'connection: close\r\n';
  return h + extra + '\r\n';
}

/** The request body framed as the recipe says, split into about `pieces` writes. */
export function framedBody(r: ReqRecipe, pieces: number): Buffer[] {
  if (r.method === 'GET') return [];
  const body = bodyBytes(r.rid, 'req', r.reqLen);
  const n = Math.max(1, Math.min(pieces, body.length || 1));
  const size = Math.ceil(body.length / n) || 0;
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += size) {
    const part = body.subarray(off, Math.min(body.length, off + size));
    out.push(r.reqChunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part);
  }
  if (r.reqChunked) {
    if (out.length === 0) out.push(Buffer.from('0\r\n\r\n'));
    else out[out.length - 1] = Buffer.concat([out[out.length - 1]!, Buffer.from('0\r\n\r\n')]);
  }
  return out;
}

export interface ClientTarget {
  port: number;
  ca: string;
  deadlineMs: number;
}

/** Run one client connection from its recipe; never rejects. */
export function runConnection(target: ClientTarget, rec: ConnRecipe): Promise<ConnOutcome> {
  return new Promise((resolve) => {
    const reader = new ResponseReader();
    const out: ConnOutcome = { responses: reader.done, partial: null, sent: 0, closedByPeer: false, error: null, timedOut: false, junk: null };
    const timers = new Set<NodeJS.Timeout>();
    let finished = false;
    let closing = false; // we ended it on purpose
    const later = (ms: number, fn: () => void): void => {
      const t = setTimeout(() => {
        timers.delete(t);
        if (!finished) fn();
      }, ms);
      timers.add(t);
    };
    // Our own TCP socket under the TLS one: resetAndDestroy() needs a TCP handle (chaos-farm.ts).
    const raw = net.connect({ host: '127.0.0.1', port: target.port });
    raw.on('error', () => {});
    const sock = tls.connect({ socket: raw, ca: target.ca, servername: 'localhost' });
    const finish = (): void => {
      if (finished) return;
      finished = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      out.partial = reader.current ? { status: reader.current.status, headers: reader.current.headers, got: reader.current.got } : null;
      out.junk = reader.junk;
      sock.destroy();
      raw.destroy();
      resolve(out);
    };
    const abort = (): void => {
      closing = true;
      if (rec.rst && !raw.destroyed && raw.readyState === 'open') raw.resetAndDestroy();
      finish();
    };
    later(target.deadlineMs, () => {
      out.timedOut = true;
      finish();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (!closing) out.error = e.code ?? e.message;
      finish();
    });
    sock.on('end', () => {
      reader.end();
      if (!closing) out.closedByPeer = true;
      finish();
    });
    sock.on('close', () => {
      reader.end();
      if (!closing) out.closedByPeer = true;
      finish();
    });

    const want = rec.kind === 'abort-upload' ? 0 : rec.requests.length;
    let onResponses: () => void = () => {};
    sock.on('data', (d: Buffer) => {
      reader.feed(d);
      if (rec.kind === 'abort-download' && reader.current && reader.current.got >= rec.cut) return abort();
      if (reader.junk) return finish();
      onResponses();
    });

    const write = (b: string | Buffer): void => {
      if (!finished && !sock.destroyed) sock.write(b);
    };

    sock.once('secureConnect', () => {
      const reqs = rec.requests;
      const last = reqs.length - 1;
      switch (rec.kind) {
        case 'pipeline': {
          // Every request in one write: the gateway sees them in one packet.
          const all: Buffer[] = [];
          reqs.forEach((r, i) => all.push(Buffer.from(requestHead(r, rec.close && i === last), 'latin1'), ...framedBody(r, 1)));
          out.sent = reqs.length;
          write(Buffer.concat(all));
          onResponses = () => {
            if (reader.done.length >= want) {
              closing = true;
              finish();
            }
          };
          return;
        }
        case 'bad-header': {
          const r = reqs[0]!;
          out.sent = 1;
          write(Buffer.concat([Buffer.from(requestHead(r, rec.close, rec.badHeader + '\r\n'), 'latin1'), ...framedBody(r, 1)]));
          onResponses = () => {
            if (reader.done.length >= 1) {
              closing = true;
              finish();
            }
          };
          return;
        }
        case 'abort-upload': {
          const r = reqs[0]!;
          out.sent = 1;
          write(requestHead(r, false));
          const parts = framedBody(r, 8);
          const cut = Math.floor(parts.length * rec.cut);
          for (let i = 0; i < cut; i++) write(parts[i]!);
          later(rec.delayMs, abort);
          return;
        }
        case 'slow-send': {
          const r = reqs[0]!;
          out.sent = 1;
          write(requestHead(r, rec.close));
          const parts = framedBody(r, rec.pieces);
          let i = 0;
          const next = (): void => {
            if (i < parts.length) write(parts[i++]!);
            if (i < parts.length) later(rec.delayMs, next);
          };
          later(rec.delayMs, next);
          onResponses = () => {
            if (reader.done.length >= 1) {
              closing = true;
              finish();
            }
          };
          return;
        }
        default: {
          // good, keepalive, close, abort-download, slow-read: one request at a time.
          let i = 0;
          const sendNext = (): void => {
            const r = reqs[i]!;
            out.sent++;
            write(requestHead(r, rec.close && i === last));
            for (const p of framedBody(r, rec.pieces)) write(p);
          };
          onResponses = () => {
            while (reader.done.length > i) {
              i++;
              if (i >= reqs.length) {
                closing = true;
                return finish();
              }
              sendNext();
            }
          };
          sendNext();
          if (rec.kind === 'slow-read') {
            sock.pause();
            later(rec.delayMs, () => sock.resume());
          }
        }
      }
    });
  });
}

