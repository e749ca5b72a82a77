import { createRequire } from 'node:module';
import { LonghaulError } from '../core/errors.js';

/**
 * Node's native llhttp parser, as node:http's own client uses it (lib/_http_client.js:
 * `parser.initialize(HTTPParser.RESPONSE, resource, maxHeaderSize, lenient)` and the
 * kOn* callback slots). It is reached through the builtin `_http_common` module, which
 * re-exports `internalBinding('http_parser').HTTPParser` and, unlike `process.binding`, prints
 * no deprecation warning on Node 20. This module is the ONE place that touches the internal
 * binding: the codec (http1-codec.ts) sees only the typed surface below.
 *
 * Facts the codec relies on, checked by the self-test at load (Node 20.20, llhttp 8/9):
 *  - header names and values are latin1 strings, flat [name, value, …]; more than 32 pairs are
 *    flushed early through kOnHeaders, so kOnHeadersComplete may get `undefined`;
 *  - kOnHeadersComplete returning 1 skips the body (HEAD, 1xx), 0 reads it;
 *  - kOnBody gets a copy (a new Buffer), never a view of the buffer given to execute();
 *  - execute() returns the bytes parsed, or an Error with `code` (HPE_…) and `bytesParsed`;
 *    finish() at EOF completes a close-delimited body and returns an Error for a truncated one
 *    (HPE_INVALID_EOF_STATE);
 *  - bytes after a complete response start a new message (kOnMessageBegin); CR/LF between
 *    messages are skipped silently.
 */
export interface NativeParser {
  initialize(type: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Buffer): number | ParserError;
  finish(): undefined | ParserError;
  close(): void;
  free(): void;
  [slot: number]: unknown;
}

export interface ParserError extends Error {
  code: string;
  bytesParsed: number;
}

export interface NativeParserClass {
  new (): NativeParser;
  readonly RESPONSE: number;
  readonly kOnMessageBegin: number;
  readonly kOnHeaders: number;
  readonly kOnHeadersComplete: number;
  readonly kOnBody: number;
  readonly kOnMessageComplete: number;
  readonly kLenientNone: number;
}

export type OnHeadersComplete = (
  versionMajor: number,
  versionMinor: number,
  headers: string[] | undefined,
  method: unknown,
  url: unknown,
  statusCode: number,
  statusMessage: string,
  upgrade: boolean,
  shouldKeepAlive: boolean,
) => number;

function load(): NativeParserClass {
  let cls: NativeParserClass | undefined;
  try {
    const require = createRequire(import.meta.url);
    cls = (require('_http_common') as { HTTPParser?: NativeParserClass }).HTTPParser;
  } catch {
    cls = undefined;
  }
  if (typeof cls !== 'function' || typeof cls.kOnHeadersComplete !== 'number' || typeof cls.kOnBody !== 'number' || typeof cls.RESPONSE !== 'number') {
    throw new LonghaulError('LH_CODEC_UNAVAILABLE', `this Node.js (${process.version}) does not expose the native HTTP parser (_http_common.HTTPParser) the backend codec needs; use Node.js 20.18 or later 20.x/22.x`);
  }
  selfTest(cls);
  return cls;
}

/** Parses a tiny response (a 103, then a 200 with a chunked body) and checks every fact the codec relies on. */
function selfTest(P: NativeParserClass): void {
  const p = new P();
  p.initialize(P.RESPONSE, {}, 0, P.kLenientNone);
  const seen: string[] = [];
  let body = '';
  p[P.kOnMessageBegin] = () => void seen.push('begin');
  p[P.kOnHeaders] = () => void seen.push('flush');
  const complete: OnHeadersComplete = (major, minor, headers, _m, _u, status) => {
    seen.push(`head ${major}.${minor} ${status} ${(headers ?? []).join('|')}`);
    return status < 200 ? 1 : 0;
  };
  p[P.kOnHeadersComplete] = complete;
  p[P.kOnBody] = (b: Buffer) => {
    body += b.toString('latin1');
  };
  p[P.kOnMessageComplete] = () => void seen.push('end');
  const wire = Buffer.from('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nX-T: \xe9\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n', 'latin1');
  const n = p.execute(wire);
  const trunc = new P();
  trunc.initialize(P.RESPONSE, {}, 0, P.kLenientNone);
  trunc[P.kOnHeadersComplete] = (() => 0) as OnHeadersComplete;
  trunc[P.kOnBody] = () => {};
  trunc[P.kOnMessageComplete] = () => {};
  trunc.execute(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'));
  const eof = trunc.finish();
  const want = 'begin,head 1.1 103 Link|</a>,end,begin,head 1.1 200 X-T|\xe9|Transfer-Encoding|chunked,end';
  p.close();
  trunc.close();
  if (n !== wire.length || seen.join(',') !== want || body !== 'ok' || !(eof instanceof Error) || (eof as ParserError).code !== 'HPE_INVALID_EOF_STATE') {
    throw new LonghaulError('LH_CODEC_UNAVAILABLE', `the native HTTP parser of Node.js ${process.version} failed the backend codec's self-test (parsed ${String(n)}, saw ${seen.join(',')}, body ${JSON.stringify(body)})`);
  }
}

/** Loaded (and self-tested) once, when the pool layer is first imported. */
export const HTTPParser: NativeParserClass = load();
