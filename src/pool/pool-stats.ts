import type { BackendConnection } from './backend-connection.js';

/** Counters of one pool (one server and pool key). Plain numbers: read by /stats, never reset. */
export interface PoolCounters {
  handshakesFull: number;
  handshakesResumed: number;
  connectFailures: number;
  leases: number;
  leasesReused: number;
  queued: number;
  queueTimeouts: number;
  queueFull: number; // answered LH_QUEUE_FULL: the server's queue held max-queue waiters
  queueAborted: number; // left the queue because the client aborted
  handovers: number; // closed another key's idle connection to open one of this key (shared budget)
  handedOver: number; // released connections closed so that an older waiter of a key with no connection could open one
  nameFailures: number; // sni: host: TLS handshakes refused for this name (not the server's health)
  burstWaits: number; // burst policy chose to wait for a busy connection
  burstOpened: number; // … and then opened one anyway because none freed in time
  retiredByServer: number; // server sent Connection: close or closed the socket
  retiredIdle: number; // closed by the pool's idle purge
  retiredBroken: number; // exchange failed / aborted
  retiredOther: number; // max-reuse, max-age, max-idle, shutdown
  madePrivate: number; // connections that became private to one client connection
}

export function newPoolCounters(): PoolCounters {
  return {
    handshakesFull: 0,
    handshakesResumed: 0,
    connectFailures: 0,
    leases: 0,
    leasesReused: 0,
    queued: 0,
    queueTimeouts: 0,
    queueFull: 0,
    queueAborted: 0,
    handovers: 0,
    handedOver: 0,
    nameFailures: 0,
    burstWaits: 0,
    burstOpened: 0,
    retiredByServer: 0,
    retiredIdle: 0,
    retiredBroken: 0,
    retiredOther: 0,
    madePrivate: 0,
  };
}

export interface PoolSnapshot {
  key: string;
  open: number;
  connecting: number;
  idle: number;
  busy: number;
  draining: number;
  /** Connections private to one client connection (idle or busy). */
  private: number;
  queue: number;
  counters: PoolCounters;
}

/** Why the pool retired a connection: server (it closed / asked to), idle (purge), broken, other. */
export type RetireKind = 'server' | 'idle' | 'broken' | 'other';

export function countRetirement(c: PoolCounters, kind: RetireKind): void {
  if (kind === 'server') c.retiredByServer++;
  else if (kind === 'idle') c.retiredIdle++;
  else if (kind === 'broken') c.retiredBroken++;
  else c.retiredOther++;
}

export function poolSnapshot(key: string, conns: Iterable<BackendConnection>, queue: number, counters: PoolCounters): PoolSnapshot {
  const s: PoolSnapshot = { key, open: 0, connecting: 0, idle: 0, busy: 0, draining: 0, private: 0, queue, counters: { ...counters } };
  for (const c of conns) {
    if (c.owner && c.state !== 'draining') s.private++;
    if (c.state === 'connecting') s.connecting++;
    else if (c.state === 'idle') s.idle++;
    else if (c.state === 'busy') s.busy++;
    else if (c.state === 'draining') s.draining++;
  }
  s.open = s.connecting + s.idle + s.busy;
  return s;
}
