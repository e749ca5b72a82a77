import type { HttpReuse } from '../config/config-types.js';

/** What a request may ride, before any retry rule applies. */
export interface ReuseConstraints {
  /** Only a connection opened for this request. */
  fresh: boolean;
  /** Only idle connections that completed at least this many exchanges. */
  minUses: number;
}

/**
 * `http-reuse`, with HAProxy's meaning (configuration manual, "http-reuse"):
 *  - `always`: any idle connection, also for a client connection's first request (the point of
 *    this gateway for `Connection: close` clients);
 *  - `aggressive`: a first request only rides a connection that was already reused at least once
 *    (it carried ≥ 2 exchanges, so the server keeps connections alive); later requests any;
 *  - `safe`: a first request always goes on a new connection; later requests may take any;
 *  - `never`: nothing is shared: each client connection gets its own backend connection
 *    (the forwarder makes it private after its first exchange), so every request without one
 *    opens a new connection.
 */
export function reuseConstraints(mode: HttpReuse, firstRequest: boolean): ReuseConstraints {
  switch (mode) {
    case 'always':
      return { fresh: false, minUses: 0 };
    case 'aggressive':
      return { fresh: false, minUses: firstRequest ? 2 : 0 };
    case 'safe':
      return { fresh: firstRequest, minUses: 0 };
    case 'never':
      return { fresh: true, minUses: 0 };
  }
}

const CONNECTION_AUTH = /^\s*(ntlm|negotiate)\b/i;

/**
 * A 401 with `WWW-Authenticate` (or a 407 with `Proxy-Authenticate`) offering NTLM or Negotiate:
 * the server authenticates the *connection*, not the request (RFC 4559 §4; MS-NTHT), so the
 * connection must stay with this one client from now on (design "Private connections").
 * `rawHeaders` is undici's flat [name, value, …] list. Challenges may share one header,
 * comma-separated (`Basic realm="x", NTLM`), or come in several headers.
 */
export function asksConnectionAuth(status: number, rawHeaders: ReadonlyArray<Buffer | string>): boolean {
  const want = status === 401 ? 'www-authenticate' : status === 407 ? 'proxy-authenticate' : null;
  if (!want) return false;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (String(rawHeaders[i]).toLowerCase() !== want) continue;
    for (const challenge of String(rawHeaders[i + 1]).split(',')) if (CONNECTION_AUTH.test(challenge)) return true;
  }
  return false;
}
