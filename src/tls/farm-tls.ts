import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import type { FarmTlsConfig } from '../config/config-types.js';

/**
 * The TLS side of one farm: ONE SecureContext shared by every connection to every server of the
 * farm (never a context per connect: building one parses the CA bundle, ~ms of CPU), plus the
 * settings that decide which SNI a connection presents.
 */
export interface FarmTls {
  readonly context: tls.SecureContext;
  readonly verify: boolean;
  readonly config: FarmTlsConfig;
  /** Identity of everything but server and SNI that makes a connection usable (pool key part). */
  readonly identity: string;
  /** SNI for a request to a server: fixed name, the request's Host, the server's host name, or none. */
  sniFor(hostHeader: string | undefined, serverHost: string): string | null;
  /** True when the SNI comes from the request's Host (`sni: host`): pools are learned from traffic. */
  readonly learnsNames: boolean;
  /**
   * `sni: host` with `tls.sni-allow`: may this Host's name be sent? False = answer 421 locally
   * (RFC 9110 §15.5.20), never send it. No Host or an IP literal sends no SNI: always allowed.
   */
  hostAllowed(hostHeader: string | undefined): boolean;
}

export function createFarmTls(config: FarmTlsConfig): FarmTls {
  const cert = config.cert ? readFileSync(config.cert) : undefined;
  const context = tls.createSecureContext({
    ca: config.ca ? readFileSync(config.ca) : undefined,
    cert,
    key: config.key ? readFileSync(config.key) : undefined,
    minVersion: config.minVersion ?? 'TLSv1.2',
    ...(config.ciphers ? { ciphers: config.ciphers } : {}),
  });
  // The client certificate is part of the pool key by content (its SHA-256), not by file name.
  const clientCert = cert ? new X509Certificate(cert).fingerprint256 : 'none';
  const identity = `ca=${config.ca ?? 'system'};verify=${config.verify};cert=${clientCert};alpn=http/1.1`;
  const allow = config.sni.kind === 'host' && config.sniAllow ? config.sniAllow.map((n) => n.toLowerCase()) : null;
  const farmTls: FarmTls = {
    context,
    verify: config.verify,
    config,
    identity,
    learnsNames: config.sni.kind === 'host',
    hostAllowed(hostHeader) {
      if (!allow) return true;
      const name = farmTls.sniFor(hostHeader, '');
      return name === null || allow.some((a) => nameMatches(a, name));
    },
    sniFor(hostHeader, serverHost) {
      switch (config.sni.kind) {
        case 'fixed':
          return config.sni.name;
        case 'none':
          return null;
        case 'address':
          return isIp(serverHost) ? null : serverHost;
        case 'host': {
          if (!hostHeader) return null;
          const h = stripPort(hostHeader).toLowerCase();
          // RFC 6066 §3: literal IP addresses are not permitted in SNI.
          return h && !isIp(h) ? h : null;
        }
      }
    },
  };
  return farmTls;
}

/** `*.example.com` matches exactly one label more (a.example.com, not a.b.example.com nor example.com). */
function nameMatches(pattern: string, name: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === name;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
}

/**
 * Everything that makes two farm TLS configs interchangeable: the settings and the bytes of the
 * files they name (a CA bundle rotated under the same path is a change). A reload keeps a farm's
 * pools only when this is unchanged.
 */
export function farmTlsFingerprint(config: FarmTlsConfig): string {
  const file = (p: string | null): string => {
    if (!p) return '';
    try {
      return readFileSync(p).toString('base64');
    } catch {
      return 'unreadable';
    }
  };
  return JSON.stringify([config, file(config.ca), file(config.cert), file(config.key)]);
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const i = host.lastIndexOf(':');
  return i > 0 && host.indexOf(':') === i ? host.slice(0, i) : host;
}

function isIp(h: string): boolean {
  return /^[\d.]+$/.test(h) || h.includes(':');
}
