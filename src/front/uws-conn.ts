import type { HttpResponse } from '@based/uws';
import { ClientConnection } from '../core/client-connection.js';
import type { UwsExchange } from './uws-exchange.js';

/** One client TCP connection, known through the `res` that uWS's `filter` gave us at open. */
export class UwsConn {
  /** Valid while the socket is open and uWS.js has not invalidated it; null afterwards. */
  handle: HttpResponse | null;
  /** Exchange whose request body is still arriving through our data handler. */
  body: UwsExchange | null = null;
  /** Exchange bound to this connection whose response is not finished. */
  current: UwsExchange | null = null;
  /** Our connection-level data handler is installed in uWS. */
  dataArmed = false;
  /** `Connection: close` was sent but uWS will not close: serve nothing more on it. */
  closing = false;
  readonly client: ClientConnection;

  constructor(
    readonly id: number,
    readonly ip: string,
    handle: HttpResponse,
  ) {
    this.handle = handle;
    this.client = new ClientConnection(id);
  }
}
