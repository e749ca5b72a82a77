import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Name of the stats page's session cookie (HttpOnly, SameSite=Strict, Path=/). */
export const SESSION_COOKIE = 'longhaul_admin';

/**
 * Token check of the admin listener. The token is read once at start from `admin.token-file`
 * (first line, surrounding whitespace trimmed); an empty file is refused, so a mistake never
 * leaves the API open while the operator believes it is protected.
 *
 * Accepted credentials (issue 12 item 4: the API keeps Bearer, a browser gets in too):
 *  - `Authorization: Bearer <token>` (RFC 6750);
 *  - `Authorization: Basic base64(<any user>:<token>)` (RFC 7617), what a browser's dialog sends;
 *  - the session cookie set by `POST /login`: an HMAC of the token under a key drawn at start,
 *    so the cookie never carries the token and every cookie dies with the process.
 * Every comparison is between SHA-256 digests with timingSafeEqual (constant time, equal lengths).
 */
export class AdminAuth {
  readonly #digest: Buffer;
  readonly #session: string;

  private constructor(token: string) {
    this.#digest = sha256(token);
    this.#session = createHmac('sha256', randomBytes(32)).update(token, 'utf8').digest('base64url');
  }

  static fromFile(file: string): AdminAuth {
    const token = (readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
    if (token === '') throw new Error(`admin.token-file ${file} is empty: put the admin token on its first line`);
    return new AdminAuth(token);
  }

  /** `ok`, `missing` (no credentials at all) or `invalid`. */
  check(authorization: string | undefined, cookie?: string | undefined): 'ok' | 'missing' | 'invalid' {
    const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (bearer) return this.matches(bearer[1]!) ? 'ok' : 'invalid';
    const basic = /^Basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 && this.matches(decoded.slice(colon + 1)) ? 'ok' : 'invalid';
    }
    const session = cookieValue(cookie, SESSION_COOKIE);
    if (session !== null) return timingSafeEqual(sha256(session), sha256(this.#session)) ? 'ok' : 'invalid';
    return authorization ? 'invalid' : 'missing';
  }

  matches(token: string): boolean {
    return timingSafeEqual(sha256(token), this.#digest);
  }

  /** `Set-Cookie` value for a successful login (no Max-Age: a browser-session cookie). */
  sessionCookie(secure: boolean): string {
    return `${SESSION_COOKIE}=${this.#session}; HttpOnly; SameSite=Strict; Path=/${secure ? '; Secure' : ''}`;
  }
}

function cookieValue(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
