import type { BackendServer } from '../balancer/backend-server.js';
import type { ClientConnection } from '../core/client-connection.js';
import type { BackendConnection } from '../pool/backend-connection.js';
import type { Lease, ServerPool } from '../pool/server-pool.js';

interface Pin {
  server: BackendServer;
  pool: ServerPool;
  conn: BackendConnection;
  /** Requests of this client wait here for their turn on the private connection (pipelining). */
  turn: Promise<void>;
}

/**
 * Which backend connection is private to which client connection (design "Pool rules / Private
 * connections"). The pool enforces privacy (a private connection is never in the shared idle
 * list and is retired when its owner closes); this registry lets the owner's next requests find
 * it. One pin per client connection: a request that needs another pool key (another SNI) rides a
 * shared connection, and if that one becomes private too it replaces the pin.
 */
export class PrivateConnections {
  readonly #pins = new WeakMap<ClientConnection, Pin>();

  /** The server this client's private connection belongs to, if it is still open. */
  serverFor(client: ClientConnection): BackendServer | null {
    const pin = this.#live(client);
    return pin ? pin.server : null;
  }

  /**
   * Lease the client's private connection when it belongs to `pool`, after the client's earlier
   * requests on it are done. Null: no usable private connection (the caller takes the shared path).
   */
  async lease(client: ClientConnection, pool: ServerPool): Promise<{ lease: Lease; done: () => void } | null> {
    const pin = this.#live(client);
    if (!pin || pin.pool !== pool) return null;
    let done!: () => void;
    const previous = pin.turn;
    pin.turn = new Promise<void>((r) => (done = r));
    await previous;
    const lease = pin.conn.state === 'idle' ? pool.leasePrivate(pin.conn) : null;
    if (!lease) {
      done();
      return null;
    }
    return { lease, done };
  }

  /** The exchange on `lease` showed the connection must stay with this client (call before release). */
  pin(client: ClientConnection, server: BackendServer, lease: Lease): void {
    if (client.closed) return;
    const old = this.#pins.get(client);
    if (old && old.conn === lease.conn) return;
    lease.pool.makePrivate(lease.conn, client);
    this.#pins.set(client, { server, pool: lease.pool, conn: lease.conn, turn: old?.turn ?? Promise.resolve() });
  }

  #live(client: ClientConnection): Pin | null {
    const pin = this.#pins.get(client);
    if (!pin) return null;
    if (pin.conn.state === 'closed' || pin.conn.state === 'draining') {
      this.#pins.delete(client);
      return null;
    }
    return pin;
  }
}
