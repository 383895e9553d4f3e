/**
 * A stand-in for the gateway's /nodes/* routes on a real socket (the real gateway is tested in
 * workerd): it records every call, can forget the node (401 node_unknown) or go dark
 * (connections dropped), and issues a fresh credential per registration.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  NODE_UNKNOWN_CODE,
  type HeartbeatRequest,
  type RegisterRequest,
} from '../../src/protocol/node-api.ts';

export interface GatewayCall {
  path: string;
  authorization: string | undefined;
  body: unknown;
  at: number;
}

export class FakeGateway {
  readonly calls: GatewayCall[] = [];
  readonly nodeToken = 'nt-test';
  heartbeatIntervalMs: number;
  /** Drop every connection, as if the gateway were unreachable. */
  down = false;
  private credentials: string[] = [];
  private forgotten = false;
  private readonly server: http.Server;

  constructor(heartbeatIntervalMs = 50) {
    this.heartbeatIntervalMs = heartbeatIntervalMs;
    this.server = http.createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => this.answer(req, res, text));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  get credential(): string | undefined {
    return this.credentials.at(-1);
  }

  /** The next heartbeat is answered 401 node_unknown, as after the gateway evicted the node. */
  forgetNode(): void {
    this.forgotten = true;
  }

  callsTo(path: string): GatewayCall[] {
    return this.calls.filter((call) => call.path === path);
  }

  registrations(): RegisterRequest[] {
    return this.callsTo('/nodes/register').map((call) => call.body as RegisterRequest);
  }

  heartbeats(): HeartbeatRequest[] {
    return this.callsTo('/nodes/heartbeat').map((call) => call.body as HeartbeatRequest);
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
    const path = req.url ?? '/';
    this.calls.push({
      path,
      authorization: req.headers.authorization,
      body: JSON.parse(text || 'null'),
      at: Date.now(),
    });
    if (this.down) {
      req.socket.destroy();
      return;
    }
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const error = (status: number, code: string): void =>
      json(status, { error: { message: code, type: 'invalid_request_error', param: null, code } });
    if (path === '/nodes/register') {
      if (req.headers.authorization !== `Bearer ${this.nodeToken}`) return error(401, 'invalid_node_token');
      this.credentials.push(`cred-${this.credentials.length + 1}`);
      this.forgotten = false;
      return json(200, {
        nodeId: 'node-1',
        credential: this.credential,
        heartbeatIntervalMs: this.heartbeatIntervalMs,
      });
    }
    if (req.headers.authorization !== `Bearer ${this.credential}` || this.forgotten)
      return error(401, NODE_UNKNOWN_CODE);
    if (path === '/nodes/heartbeat') return json(200, { ok: true, draining: false });
    if (path === '/nodes/drain' || path === '/nodes/deregister') return json(200, { ok: true });
    return error(404, 'not_found');
  }
}
