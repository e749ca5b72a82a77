/**
 * Raw TLS client for front-end tests: send exact bytes, collect the whole reply until the server
 * closes (EOF) or a quiet timeout elapses, and parse the reply into HTTP/1.x responses so tests can
 * count them. No mocking: a real TLS socket on loopback.
 */
import tls from 'node:tls';

export interface RawResponse {
  /** e.g. 'HTTP/1.1' */
  version: string;
  status: number;
  reason: string;
  /** Header list in arrival order (names as received). */
  headers: Array<[string, string]>;
  /** Body after de-chunking (when chunked) or Content-Length bytes. */
  body: Buffer;
  /** true when the body was sent with chunked framing. */
  chunked: boolean;
}

export interface RawReply {
  /** Every byte received. */
  raw: Buffer;
  /** Parsed responses, in order (interim 1xx responses included). */
  responses: RawResponse[];
  /** Bytes after the last complete response that could not be parsed (incomplete or garbage). */
  trailing: Buffer;
  /** The server closed the connection (EOF / close) before our timeout. */
  eof: boolean;
  /** The socket reported an error (e.g. ECONNRESET). */
  error: Error | null;
  /** We stopped waiting because of the timeout. */
  timedOut: boolean;
}

export interface RawSendOptions {
  host?: string;
  port: number;
  /** Bytes to send right after the handshake; an array is sent as separate writes, `gapMs` apart. */
  data: string | Buffer | Array<string | Buffer>;
  gapMs?: number;
  /** Stop waiting when nothing arrived for this long (default 1500 ms). */
  quietMs?: number;
  /** Stop waiting after this in any case (default 10 s). */
  totalMs?: number;
  /** Stop as soon as this many final (non-1xx) responses are complete (default: wait for EOF/quiet). */
  stopAfterResponses?: number;
  ca?: string | Buffer;
  servername?: string;
  /** Requests whose response has no body even with Content-Length (HEAD), by response index. */
  headResponses?: number[];
  /** Do not read from the socket for this long after the request is sent (builds server-side backpressure). */
  pauseReadMs?: number;
  /** Called once per newly parsed response; may write more bytes (e.g. a body after 100 Continue). */
  onResponse?: (r: RawResponse, socket: tls.TLSSocket) => void;
}

/** Send bytes, collect the reply. Never rejects for server-side closes/resets: see `eof`/`error`. */
export function rawTlsRequest(opts: RawSendOptions): Promise<RawReply> {
  const quietMs = opts.quietMs ?? 1500;
  const totalMs = opts.totalMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let eof = false;
    let error: Error | null = null;
    let timedOut = false;
    let done = false;
    let quietTimer: NodeJS.Timeout | undefined;
    let seen = 0;
    const socket = tls.connect({
      host: opts.host ?? '127.0.0.1',
      port: opts.port,
      servername: opts.servername ?? 'localhost',
      ...(opts.ca ? { ca: opts.ca } : { rejectUnauthorized: false }),
    });
    const totalTimer = setTimeout(() => {
      timedOut = true;
      finish();
    }, totalMs);
    const armQuiet = (): void => {
      if (quietTimer) clearTimeout(quietTimer);
      quietTimer = setTimeout(() => {
        timedOut = true;
        finish();
      }, quietMs);
    };
    function finish(): void {
      if (done) return;
      done = true;
      clearTimeout(totalTimer);
      if (quietTimer) clearTimeout(quietTimer);
      socket.destroy();
      const raw = Buffer.concat(chunks);
      const parsed = parseResponses(raw, opts.headResponses ?? []);
      resolve({ raw, responses: parsed.responses, trailing: parsed.trailing, eof, error, timedOut });
    }
    socket.once('secureConnect', () => {
      const parts = Array.isArray(opts.data) ? opts.data : [opts.data];
      let i = 0;
      const next = (): void => {
        if (done || i >= parts.length) return;
        socket.write(parts[i++]!);
        if (i < parts.length) setTimeout(next, opts.gapMs ?? 20);
      };
      next();
      if (opts.pauseReadMs) {
        socket.pause();
        setTimeout(() => {
          socket.resume();
          armQuiet();
        }, opts.pauseReadMs);
      } else {
        armQuiet();
      }
    });
    // Parsing on every read is quadratic; only done when a caller needs to react to responses.
    const parseOnData = opts.stopAfterResponses !== undefined || opts.onResponse !== undefined;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      armQuiet();
      if (!parseOnData) return;
      const parsed = parseResponses(Buffer.concat(chunks), opts.headResponses ?? []);
      for (; seen < parsed.responses.length; seen++) opts.onResponse?.(parsed.responses[seen]!, socket);
      if (opts.stopAfterResponses !== undefined) {
        const finals = parsed.responses.filter((r) => r.status >= 200).length;
        if (finals >= opts.stopAfterResponses) finish();
      }
    });
    socket.on('end', () => {
      eof = true;
      finish();
    });
    socket.on('close', () => {
      eof = true;
      finish();
    });
    socket.on('error', (e) => {
      if (!socket.remoteAddress && chunks.length === 0 && !done) {
        // could not even connect
        done = true;
        clearTimeout(totalTimer);
        if (quietTimer) clearTimeout(quietTimer);
        reject(e);
        return;
      }
      error = e;
      finish();
    });
  });
}

/**
 * Tiny HTTP/1.x response parser: status line, headers, body framed by chunked / Content-Length /
 * no body (1xx, 204, 304, HEAD by index) / until EOF (neither header). Stops at the first
 * incomplete or unparsable response and returns the rest as `trailing`.
 */
export function parseResponses(raw: Buffer, headResponses: number[] = []): { responses: RawResponse[]; trailing: Buffer } {
  const responses: RawResponse[] = [];
  let pos = 0;
  let finalIndex = 0;
  for (;;) {
    if (pos >= raw.length) break;
    const headEnd = raw.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) break;
    const head = raw.subarray(pos, headEnd).toString('latin1');
    const lines = head.split('\r\n');
    const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(lines[0] ?? '');
    if (!m) break;
    const headers: Array<[string, string]> = [];
    for (const line of lines.slice(1)) {
      const c = line.indexOf(':');
      if (c <= 0) continue;
      headers.push([line.slice(0, c), line.slice(c + 1).trim()]);
    }
    const status = Number(m[2]);
    const get = (n: string): string | undefined => headers.find(([k]) => k.toLowerCase() === n)?.[1];
    let p = headEnd + 4;
    let body: Buffer = Buffer.alloc(0);
    let chunked = false;
    const isInterim = status >= 100 && status < 200;
    const isHead = !isInterim && headResponses.includes(finalIndex);
    if (isInterim || status === 204 || status === 304 || isHead) {
      // no body
    } else if ((get('transfer-encoding') ?? '').toLowerCase().includes('chunked')) {
      chunked = true;
      const parts: Buffer[] = [];
      let complete = false;
      for (;;) {
        const le = raw.indexOf('\r\n', p);
        if (le < 0) break;
        const size = parseInt(raw.subarray(p, le).toString('latin1').split(';')[0]!, 16);
        if (!Number.isFinite(size)) break;
        p = le + 2;
        if (size === 0) {
          // trailers until empty line
          const te = raw.indexOf('\r\n', p);
          if (te < 0) break;
          if (te === p) {
            p += 2;
            complete = true;
            break;
          }
          const end2 = raw.indexOf('\r\n\r\n', p);
          if (end2 < 0) break;
          p = end2 + 4;
          complete = true;
          break;
        }
        if (p + size + 2 > raw.length) break;
        parts.push(raw.subarray(p, p + size));
        p += size + 2;
      }
      if (!complete) break;
      body = Buffer.concat(parts);
    } else if (get('content-length') !== undefined) {
      const n = Number(get('content-length'));
      if (p + n > raw.length) break;
      body = raw.subarray(p, p + n);
      p += n;
    } else {
      // read until EOF
      body = raw.subarray(p);
      p = raw.length;
    }
    responses.push({ version: m[1]!, status, reason: m[3] ?? '', headers, body: Buffer.from(body), chunked });
    if (!isInterim) finalIndex++;
    pos = p;
  }
  return { responses, trailing: raw.subarray(pos) };
}

/** Header value (first, case-insensitive) of a parsed response. */
export function header(r: RawResponse, name: string): string | undefined {
  const n = name.toLowerCase();
  return r.headers.find(([k]) => k.toLowerCase() === n)?.[1];
}
