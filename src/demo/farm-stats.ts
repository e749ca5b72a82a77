/**
 * What the farm server records for tests to assert on: live counters, one record per
 * connection, and the request log.
 */
export type ClosedBy = 'server' | 'client';

export interface ConnectionRecord {
  id: number;
  /** SNI the client sent; '' when none. */
  sni: string;
  resumed: boolean;
  /** Subject CN of the client certificate, or null. */
  clientCert: string | null;
  /** Requests received on this connection (since the last resetStats). */
  requests: number;
  /** Who sent FIN (or RST) first; null while open. */
  closedBy: ClosedBy | null;
}

export interface FarmStats {
  /** TCP connections accepted. */
  connections: number;
  /** Completed TLS handshakes = fullHandshakes + resumedHandshakes. */
  handshakes: number;
  fullHandshakes: number;
  resumedHandshakes: number;
  handshakeErrors: number;
  /** Requests received (request heads parsed), including the ones dropped below. */
  requests: number;
  /** Requests that arrived on a connection the server had already decided to close; never answered. */
  requestsDroppedOnClosingConnection: number;
  /** SNI of each handshaken connection in handshake order; '' when none. */
  sniPerConnection: string[];
  connectionClosedByServer: number;
  connectionClosedByClient: number;
  requestsSeenWithConnectionClose: number;
  /** Records of connections handshaken since the last resetStats, plus those open at that time. */
  perConnection: ConnectionRecord[];
  openConnections: number;
}

export interface RequestRecord {
  connId: number;
  sni: string;
  /** 1-based index of this request on its connection. */
  connRequest: number;
  method: string;
  url: string;
  httpVersion: string;
  /** Header names and values as received, alternating. */
  rawHeaders: string[];
  /** Body bytes received so far. */
  bodyLength: number;
  /** sha256 hex of the body; null until the body has been received completely (stays null if it never is). */
  bodySha256: string | null;
  /** Date.now() when the request head was parsed. */
  at: number;
}

export function zeroStats(): FarmStats {
  return {
    connections: 0,
    handshakes: 0,
    fullHandshakes: 0,
    resumedHandshakes: 0,
    handshakeErrors: 0,
    requests: 0,
    requestsDroppedOnClosingConnection: 0,
    sniPerConnection: [],
    connectionClosedByServer: 0,
    connectionClosedByClient: 0,
    requestsSeenWithConnectionClose: 0,
    perConnection: [],
    openConnections: 0,
  };
}
