import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Bearer-token check of the admin listener (RFC 6750). The token is read once at start from
 * `admin.token-file` (first line, surrounding whitespace trimmed); an empty file is refused, so a
 * mistake never leaves the API open while the operator believes it is protected.
 */
export class AdminAuth {
  readonly #digest: Buffer;

  private constructor(token: string) {
    this.#digest = sha256(token);
  }

  static fromFile(file: string): AdminAuth {
    const token = (readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
    if (token === '') throw new Error(`admin.token-file ${file} is empty: put the admin token on its first line`);
    return new AdminAuth(token);
  }

  /**
   * `ok`, `missing` (no Bearer credentials) or `invalid`. Compares SHA-256 digests with
   * timingSafeEqual: constant time, and equal lengths whatever the candidate's length.
   */
  check(authorization: string | undefined): 'ok' | 'missing' | 'invalid' {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
    if (!m) return 'missing';
    return timingSafeEqual(sha256(m[1]!), this.#digest) ? 'ok' : 'invalid';
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}
