import { LRUCache } from 'lru-cache';

/**
 * TLS sessions to servers, keyed `host:port:sni` (design: "TLS to servers"). A new connection
 * resumes the most recently received session of its key, so only the first connection of a key
 * pays a full handshake. Sessions are bounded (LRU) and expire before servers usually forget them.
 */
export class TlsSessionCache {
  readonly #cache: LRUCache<string, Buffer>;

  constructor(max = 1024, ttlMs = 60 * 60 * 1000) {
    this.#cache = new LRUCache<string, Buffer>({ max, ttl: ttlMs });
  }

  static key(host: string, port: number, sni: string | null): string {
    return `${host}:${port}:${sni ?? ''}`;
  }

  get(key: string): Buffer | undefined {
    return this.#cache.get(key);
  }

  set(key: string, session: Buffer): void {
    this.#cache.set(key, session);
  }

  delete(key: string): void {
    this.#cache.delete(key);
  }
}
