/**
 * A stand-in for the gateway's /nodes/* routes on a real socket (the real gateway is tested in
 * workerd): it records every call, can forget the node (401 node_unknown) or go dark
 * (connections dropped), and issues a fresh credential per registration.
 *
 * It answers as workers/gateway/routes/nodes.ts does: registration 201, the other routes 200,
 * and a registration or heartbeat whose body fails the protocol schema (src/protocol/node-api.ts)
 * 400 with an OpenAI-shaped error naming the field. Only accepted (2xx) registrations and
 * heartbeats count in `registrations()` and `heartbeats()`, so an agent that sends a body the
 * real gateway would refuse cannot pass a test that waits for them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { z } from 'zod';
import { ApiError } from '../../src/openai/errors.ts';
import { parseJsonBody } from '../../workers/gateway/dispatch/read-json.ts';
import {
  HeartbeatRequestSchema,
  NODE_UNKNOWN_CODE,
  RegisterRequestSchema,
} from '../../src/protocol/node-api.ts';

export interface GatewayCall {
  path: string;
  authorization: string | undefined;
  /** The body as JSON, or the raw text when it was not JSON. */
  body: unknown;
  at: number;
  /** What the fake answered; null when it dropped the connection (`down`). */
  status: number | null;
  /** The error message of a 4xx answer. */
  error?: string;
}

type Registration = z.output<typeof RegisterRequestSchema>;
type Heartbeat = z.output<typeof HeartbeatRequestSchema>;

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

  /** The registrations the fake accepted (201), as the schema parsed them. */
  registrations(): Registration[] {
    return this.accepted('/nodes/register').map((call) => RegisterRequestSchema.parse(call.body));
  }

  /** The heartbeats the fake accepted (200), as the schema parsed them. */
  heartbeats(): Heartbeat[] {
    return this.accepted('/nodes/heartbeat').map((call) => HeartbeatRequestSchema.parse(call.body));
  }

  private accepted(path: string): GatewayCall[] {
    return this.callsTo(path).filter((call) => call.status !== null && call.status < 300);
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, text: string): void {
    const path = req.url ?? '/';
    const call: GatewayCall = {
      path,
      authorization: req.headers.authorization,
      body: parseJson(text),
      at: Date.now(),
      status: null,
    };
    this.calls.push(call);
    if (this.down) {
      req.socket.destroy();
      return;
    }
    const json = (status: number, body: unknown): void => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const refuse = (error: ApiError): void => {
      call.error = error.message;
      json(error.status, error.toBody());
    };
    if (path === '/nodes/register') {
      if (req.headers.authorization !== `Bearer ${this.nodeToken}`)
        return refuse(new ApiError(401, 'Registration takes a node token.', { code: 'invalid_node_token' }));
      const invalid = bodyError(text, RegisterRequestSchema);
      if (invalid) return refuse(invalid);
      this.credentials.push(`cred-${this.credentials.length + 1}`);
      this.forgotten = false;
      return json(201, {
        nodeId: 'node-1',
        credential: this.credential,
        heartbeatIntervalMs: this.heartbeatIntervalMs,
      });
    }
    if (path === '/nodes/heartbeat') {
      // The real gateway reads the body before it asks the registry whether it knows the node.
      const invalid = bodyError(text, HeartbeatRequestSchema);
      if (invalid) return refuse(invalid);
    }
    if (req.headers.authorization !== `Bearer ${this.credential}` || this.forgotten)
      return refuse(new ApiError(401, 'The gateway does not know this node.', { code: NODE_UNKNOWN_CODE }));
    if (path === '/nodes/heartbeat') return json(200, { ok: true, draining: false });
    if (path === '/nodes/drain') return json(200, { ok: true, draining: true });
    if (path === '/nodes/deregister') return json(200, { ok: true });
    return refuse(new ApiError(404, `No route ${path}.`, { code: 'not_found' }));
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The 400 the real gateway gives a body that is not a JSON object or fails `schema`, or null. */
function bodyError(text: string, schema: z.core.$ZodType): ApiError | null {
  try {
    parseJsonBody(new TextEncoder().encode(text), schema);
    return null;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
}
