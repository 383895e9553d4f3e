/**
 * The agent's own HTTP calls (health probes, load scrapes, the gateway's node API) on node:http
 * rather than fetch. The first fetch loads undici, about 10 MB resident for the rest of the
 * agent's life, and each call costs several times the CPU of a plain request; these calls are
 * small, read whole, and made every few seconds per engine.
 */
import http from 'node:http';
import https from 'node:https';

export interface PlainAnswer {
  status: number;
  statusText: string;
  text: string;
}

export interface PlainRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Node's pooled global agent unless said otherwise; `false` for a connection of its own. */
  agent?: http.Agent | false;
}

/** Resolves once the whole answer is read; rejects when the call fails or `signal` aborts. */
export function plainRequest(url: string, request: PlainRequest = {}): Promise<PlainAnswer> {
  const { method = 'GET', headers = {}, body, signal, agent } = request;
  const target = new URL(url);
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const outgoing = client.request(target, { method, headers, signal, agent }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.once('error', reject);
      answer.once('end', () =>
        resolve({
          status: answer.statusCode ?? 0,
          statusText: answer.statusMessage ?? '',
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    outgoing.once('error', reject);
    outgoing.end(body);
  });
}
