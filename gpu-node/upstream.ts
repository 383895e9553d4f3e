/**
 * Where and how the proxy reaches an engine: the parsed base URL and a pooled agent, made once
 * per engine URL instead of per call, and the header lists for both directions built straight
 * from the raw header arrays (no header objects, no per-header validation on the hot path).
 */
import http from 'node:http';
import https from 'node:https';

/** Headers that describe one hop's connection, or credentials the proxy replaces. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'authorization',
]);

export interface Upstream {
  module: typeof http | typeof https;
  agent: http.Agent;
  hostname: string;
  port: string;
  /** The Host header: the array form of request headers gets none from Node. */
  host: string;
  /** The base URL's path without its trailing slash, put before every call's path. */
  pathPrefix: string;
}

export class Upstreams {
  private readonly byBaseUrl = new Map<string, Upstream>();
  /**
   * Pooled connections to engines, dropped after 1 s idle: well before the engines' own idle
   * timeouts (uvicorn's and llama.cpp's are 5 s), because a POST written onto a socket the engine
   * is closing at that moment fails and cannot be replayed (its body was streamed through).
   * No cap on sockets: the gateway already bounds what it sends to an engine.
   */
  private readonly agents = {
    http: new http.Agent({ keepAlive: true, timeout: 1_000 }),
    https: new https.Agent({ keepAlive: true, timeout: 1_000 }),
  };

  for(baseUrl: string): Upstream {
    let upstream = this.byBaseUrl.get(baseUrl);
    if (!upstream) {
      const base = new URL(baseUrl);
      const secure = base.protocol === 'https:';
      upstream = {
        module: secure ? https : http,
        agent: secure ? this.agents.https : this.agents.http,
        hostname: base.hostname,
        port: base.port,
        host: base.host,
        pathPrefix: base.pathname.replace(/\/$/, ''),
      };
      this.byBaseUrl.set(baseUrl, upstream);
    }
    return upstream;
  }

  destroy(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

/** The caller's headers for the engine: its own key and host, no hop-by-hop or switchyard ones. */
export function requestHeaders(raw: readonly string[], host: string, apiKey: string): string[] {
  const kept = ['host', host, 'authorization', `Bearer ${apiKey}`];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || name.startsWith('x-switchyard-')) continue;
    kept.push(raw[i]!, raw[i + 1]!);
  }
  return kept;
}

/** The engine's answer headers for the caller, without those of the engine's own connection. */
export function responseHeaders(raw: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (name === 'connection' || name === 'keep-alive' || name === 'transfer-encoding') continue;
    kept.push(raw[i]!, raw[i + 1]!);
  }
  return kept;
}
