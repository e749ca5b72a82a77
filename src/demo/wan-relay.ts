/**
 * WAN emulator: a TCP relay that makes a loopback server look `rttMs` away.
 *
 * Delay model (d = rttMs / 2, t0 = when the relay accepted the client's connection):
 *  - client → server: a chunk read at time t is written upstream at max(t, t0 + rttMs) + d.
 *    On a real WAN the client cannot send before the SYN/SYN-ACK round trip completes, so its
 *    first byte reaches the server 1.5 RTT after connect(); the relay accepts instantly on
 *    loopback, so it holds the client's bytes for that one RTT instead.
 *  - server → client: a chunk read at time t is written to the client at t + d.
 *  - The upstream TCP connection is opened at t0 + d (when the SYN would reach the server).
 *  Hence a new connection costs what TCP + TLS 1.3 + one request cost on a real WAN:
 *  ClientHello reaches the server at 1.5 RTT, the server's flight is back at 2 RTT, the request
 *  (sent with the client Finished) reaches the server at 2.5 RTT, the response is back at 3 RTT.
 *  A request on an established connection costs 1 RTT. Bandwidth is not limited.
 *
 * Invariants:
 *  - Each direction is one FIFO: bytes, then FIN, are delivered in the order they were read,
 *    never reordered and never coalesced across a FIN.
 *  - FIN (half-close) is forwarded after the data read before it, with the same delay; the
 *    other direction keeps flowing.
 *  - An error or RST on one side resets the other side (RST, not FIN) after the same delay,
 *    discarding data still queued towards the failed side.
 *  - Upstream connect failure resets the client connection (the client sees ECONNRESET after
 *    rttMs, where a real client would see ECONNREFUSED or a timeout).
 *  - Backpressure: a direction stops reading when more than HIGH_WATER bytes are queued or
 *    unflushed towards its destination, and resumes below half of it.
 */
import { Socket, createServer, type Server } from 'node:net';

export interface WanRelayOptions {
  target: { host: string; port: number };
  rttMs: number;
  listenHost?: string;
  /** Default 0 (ephemeral). */
  port?: number;
}

export interface WanRelayStats {
  /** Client connections accepted. */
  connections: number;
  /** Relayed connections not yet closed on both sides. */
  open: number;
  bytesToServer: number;
  bytesToClient: number;
}

export interface WanRelay {
  readonly port: number;
  readonly host: string;
  readonly stats: WanRelayStats;
  /** Stops listening and destroys every relayed connection. */
  close(): Promise<void>;
}

const HIGH_WATER = 4 * 1024 * 1024;

type Item = { at: number; kind: 'data'; chunk: Buffer } | { at: number; kind: 'fin' } | { at: number; kind: 'rst' };

/** One direction of one relayed connection: a time-ordered queue drained by a single timer. */
class DelayedPipe {
  private readonly queue: Item[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private sourcePaused = false;
  private dead = false;

  /** @param ready false until dest has been asked to connect; nothing is written before that. */
  constructor(
    private readonly source: Socket,
    private readonly dest: Socket,
    private readonly onBytes: (n: number) => void,
    private ready: boolean,
  ) {
    dest.on('drain', () => this.checkPressure());
  }

  /** dest is connecting or connected: queued items may now be written (writes made while connecting are buffered by node). */
  open(): void {
    this.ready = true;
    this.schedule();
  }

  push(item: Item): void {
    if (this.dead) return;
    if (item.kind === 'data') this.queuedBytes += item.chunk.length;
    this.queue.push(item);
    this.checkPressure();
    this.schedule();
  }

  /** Drops everything still queued; nothing more will be written to dest. */
  kill(): void {
    this.dead = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.dead || !this.ready || this.timer !== null || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0]!.at - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const now = performance.now();
    while (!this.dead && this.queue.length > 0 && this.queue[0]!.at <= now) {
      const item = this.queue.shift()!;
      if (item.kind === 'data') {
        this.queuedBytes -= item.chunk.length;
        this.onBytes(item.chunk.length);
        this.dest.write(item.chunk);
      } else if (item.kind === 'fin') {
        this.dest.end();
      } else {
        if (!this.dest.destroyed) this.dest.resetAndDestroy();
        this.kill();
      }
    }
    this.checkPressure();
    this.schedule();
  }

  private checkPressure(): void {
    const pending = this.queuedBytes + this.dest.writableLength;
    if (!this.sourcePaused && pending > HIGH_WATER) {
      this.sourcePaused = true;
      this.source.pause();
    } else if (this.sourcePaused && pending < HIGH_WATER / 2) {
      this.sourcePaused = false;
      this.source.resume();
    }
  }
}

export async function startWanRelay(opts: WanRelayOptions): Promise<WanRelay> {
  const rtt = Math.max(0, opts.rttMs);
  const oneWay = rtt / 2;
  const host = opts.listenHost ?? '127.0.0.1';
  const stats: WanRelayStats = { connections: 0, open: 0, bytesToServer: 0, bytesToClient: 0 };
  const sockets = new Set<Socket>();
  const pipes = new Set<DelayedPipe>();
  const timers = new Set<NodeJS.Timeout>();

  function later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  }

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const t0 = performance.now();
    stats.connections++;
    stats.open++;
    sockets.add(client);
    client.setNoDelay(true);

    const upstream = new Socket({ allowHalfOpen: true });
    sockets.add(upstream);
    const up = new DelayedPipe(client, upstream, (n) => (stats.bytesToServer += n), false);
    const down = new DelayedPipe(upstream, client, (n) => (stats.bytesToClient += n), true);
    pipes.add(up);
    pipes.add(down);

    let closedSides = 0;
    const onClose = (s: Socket) => () => {
      sockets.delete(s);
      if (++closedSides === 2) {
        stats.open--;
        up.kill();
        down.kill();
        pipes.delete(up);
        pipes.delete(down);
      }
    };
    client.on('close', onClose(client));
    upstream.on('close', onClose(upstream));

    client.on('data', (chunk: Buffer) => up.push({ at: Math.max(performance.now(), t0 + rtt) + oneWay, kind: 'data', chunk }));
    client.on('end', () => up.push({ at: Math.max(performance.now(), t0 + rtt) + oneWay, kind: 'fin' }));
    client.on('error', () => {
      down.kill();
      up.push({ at: performance.now() + oneWay, kind: 'rst' });
    });
    // 'close' without 'end' or 'error' cannot happen for a socket only the relay destroys.

    upstream.on('data', (chunk: Buffer) => down.push({ at: performance.now() + oneWay, kind: 'data', chunk }));
    upstream.on('end', () => down.push({ at: performance.now() + oneWay, kind: 'fin' }));
    upstream.on('error', () => {
      up.kill();
      down.push({ at: performance.now() + oneWay, kind: 'rst' });
    });

    client.resume();
    later(oneWay, () => {
      if (client.destroyed) {
        upstream.destroy();
        return;
      }
      upstream.connect({ host: opts.target.host, port: opts.target.port }, () => upstream.setNoDelay(true));
      up.open();
    });
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolveListen();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('wan relay has no TCP address');

  return {
    port: address.port,
    host,
    stats,
    close() {
      const closed = new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const p of pipes) p.kill();
      pipes.clear();
      for (const s of sockets) s.destroy();
      return closed;
    },
  };
}
