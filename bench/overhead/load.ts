/**
 * The two load generators. `closedLoop`: autocannon, each connection sending its next request
 * when the last answer has fully arrived, every response time (to the last byte, fractional
 * milliseconds) recorded in an HDR histogram. `streamProbe`: a node:http client that reads
 * streamed answers event by event, for the time to first byte and, with the ChunkTap, the
 * delay each chunk picked up between the engine and the client.
 */
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import http from 'node:http';
import { EventKeys, type ChunkTap } from './chunk-tap.ts';

/** Where one system takes a chat completion, and what it needs to be let in. */
export interface Endpoint {
  url: string;
  headers: Record<string, string>;
}

export type Histogram = hdr.Histogram;

/** Microseconds, 1 µs to 10 minutes, 3 significant digits. */
export function histogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, autoResize: true });
}

/** A percentile of a microsecond histogram, in milliseconds. */
export function ms(h: Histogram, percentile: number): number {
  return h.totalCount === 0 ? NaN : h.getValueAtPercentile(percentile) / 1000;
}

export interface LoadFigures {
  requests: number;
  seconds: number;
  rps: number;
  /** Time to the last byte, µs. */
  latency: Histogram;
}

export function closedLoop(
  endpoint: Endpoint,
  body: string,
  connections: number,
  seconds: number,
): Promise<LoadFigures> {
  const latency = histogram();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: endpoint.url,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...endpoint.headers },
        body,
        connections,
        duration: seconds,
      },
      (error: unknown, result) => {
        if (error) return reject(new Error(`autocannon against ${endpoint.url} failed`, { cause: error }));
        if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
          const problems = `${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts`;
          return reject(new Error(`${endpoint.url} (${connections} connections): ${problems}`));
        }
        resolve({ requests: latency.totalCount, seconds, rps: latency.totalCount / seconds, latency });
      },
    );
    instance.on('response', (_client, _status, _bytes, responseTime) =>
      latency.recordValue(Math.max(1, Math.round(responseTime * 1000))),
    );
  });
}

export interface StreamFigures {
  requests: number;
  rps: number;
  /** Request sent → first body byte, µs. */
  ttfb: Histogram;
  /** Engine sent the event → the client has it, µs, every event of every answer. */
  chunkDelay: Histogram;
  /** Events the client got that the tap never saw leave the engine (should be 0). */
  unmatched: number;
  events: number;
  failures: string[];
}

/**
 * `connections` clients, each sending its next streamed request when the last one has ended,
 * for `seconds`. Each keeps one keep-alive connection, as a real SDK client does.
 */
export async function streamProbe(
  endpoint: Endpoint,
  body: string,
  connections: number,
  seconds: number,
  tap: ChunkTap,
): Promise<StreamFigures> {
  const figures: StreamFigures = {
    requests: 0,
    rps: 0,
    ttfb: histogram(),
    chunkDelay: histogram(),
    unmatched: 0,
    events: 0,
    failures: [],
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const deadline = performance.now() + seconds * 1000;
  const client = async () => {
    while (performance.now() < deadline && figures.failures.length < 5) {
      await oneStream(endpoint, body, agent, tap, figures).catch((error: unknown) =>
        figures.failures.push(String(error)),
      );
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: connections }, client));
  agent.destroy();
  figures.rps = figures.requests / ((performance.now() - started) / 1000);
  if (figures.failures.length > 0) {
    throw new Error(`streams to ${endpoint.url} failed: ${figures.failures.slice(0, 3).join('; ')}`);
  }
  return figures;
}

function oneStream(
  endpoint: Endpoint,
  body: string,
  agent: http.Agent,
  tap: ChunkTap,
  figures: StreamFigures,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const sent = performance.now();
    const request = http.request(endpoint.url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', ...endpoint.headers },
    });
    request.on('error', reject);
    request.on('response', (response) => {
      if (response.statusCode !== 200) {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => reject(new Error(`HTTP ${response.statusCode}: ${text.slice(0, 300)}`)));
        return;
      }
      const keys = new EventKeys();
      let first = true;
      response.setEncoding('latin1');
      response.on('data', (chunk: string) => {
        const at = performance.now();
        if (first) {
          figures.ttfb.recordValue(Math.max(1, Math.round((at - sent) * 1000)));
          first = false;
        }
        for (const key of keys.push(chunk)) {
          figures.events++;
          const emitted = tap.emitted.get(key);
          if (emitted === undefined) figures.unmatched++;
          else figures.chunkDelay.recordValue(Math.max(1, Math.round((at - emitted) * 1000)));
        }
      });
      response.on('end', () => {
        figures.requests++;
        resolve();
      });
      response.on('error', reject);
    });
    request.end(body);
  });
}
