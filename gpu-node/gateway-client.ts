/**
 * The agent's side of the node protocol (src/protocol/node-api.ts): register with the node
 * token, heartbeat with the credential it returns, register again when the gateway has
 * forgotten the node, and keep trying with capped full-jitter backoff while it is unreachable.
 * Logs changes (registered, lost, back), not every beat.
 */
import type { Logger } from 'pino';
import type { z } from 'zod';
import {
  type HeartbeatRequest,
  HeartbeatResponseSchema,
  NODE_UNKNOWN_CODE,
  type RegisterRequest,
  type RegisterResponse,
  RegisterResponseSchema,
} from '../src/protocol/node-api.ts';
import { type BackoffPolicy, fullJitterDelay, sleep } from './backoff.ts';

export class GatewayError extends Error {
  /** HTTP status, or null when the gateway could not be reached at all. */
  readonly status: number | null;
  /** `error.code` from the gateway's OpenAI-shaped body, when it sent one. */
  readonly code: string | null;

  constructor(message: string, details: { status: number | null; code: string | null; cause?: unknown }) {
    super(message, { cause: details.cause });
    this.name = 'GatewayError';
    this.status = details.status;
    this.code = details.code;
  }
}

export interface GatewayClientTimings {
  retry: BackoffPolicy;
  requestTimeoutMs: number;
  /** Beat at least this often, even if the gateway suggests a longer interval. */
  maxHeartbeatIntervalMs?: number;
}

export interface GatewayClientOptions {
  gatewayUrl: string;
  nodeToken: string;
  registration(): Promise<RegisterRequest>;
  heartbeat(): Promise<HeartbeatRequest>;
  logger: Logger;
  timings?: Partial<GatewayClientTimings>;
  /** Called for every failed registration or heartbeat (for the failure counter). */
  failed?(error: GatewayError): void;
}

const DEFAULT_TIMINGS: GatewayClientTimings = {
  retry: { baseMs: 1_000, capMs: 30_000 },
  requestTimeoutMs: 10_000,
};

export class GatewayClient {
  private readonly options: GatewayClientOptions;
  private readonly timings: GatewayClientTimings;
  private readonly logger: Logger;
  private registered: RegisterResponse | null = null;
  private gatewaySaysDraining = false;
  private readonly stopController = new AbortController();
  private loop: Promise<void> | null = null;
  /** Aborted to cut the wait before the next heartbeat short. */
  private wake = new AbortController();

  constructor(options: GatewayClientOptions) {
    this.options = options;
    this.timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.logger = options.logger.child({ component: 'gateway-client' });
  }

  /** What the gateway presents on calls to this node; null until registered. */
  get credential(): string | null {
    return this.registered?.credential ?? null;
  }

  start(): void {
    this.loop ??= this.keepInTouch(this.stopController.signal);
  }

  /**
   * Sends the next heartbeat now rather than at the end of the interval: an engine that became
   * ready (or crashed) should not wait up to one interval for the gateway to hear of it.
   */
  beatSoon(): void {
    this.wake.abort();
  }

  /** Ends the heartbeat loop (a beat under way is abandoned). */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.loop;
  }

  /** Asks the gateway to stop leasing this node's engines; in-flight requests still finish. */
  async drain(): Promise<void> {
    const credential = this.credential;
    if (credential !== null) await this.post('/nodes/drain', credential, {});
  }

  async deregister(): Promise<void> {
    const credential = this.credential;
    if (credential === null) return;
    await this.post('/nodes/deregister', credential, {});
    this.registered = null;
  }

  private async keepInTouch(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      try {
        if (this.registered === null) await this.register(signal);
        else await this.beat(this.registered.credential, signal);
        if (failures > 0) this.logger.info({ failures }, 'gateway reachable again');
        failures = 0;
        await sleep(this.intervalMs(), AbortSignal.any([signal, this.wake.signal]));
        if (this.wake.signal.aborted) this.wake = new AbortController();
      } catch (error) {
        if (signal.aborted) return;
        const failure = asGatewayError(error);
        if (this.registered !== null && failure.status === 401 && failure.code === NODE_UNKNOWN_CODE) {
          this.logger.warn(
            { nodeId: this.registered.nodeId },
            'the gateway no longer knows this node: registering again',
          );
          this.registered = null;
          continue;
        }
        this.options.failed?.(failure);
        const action = this.registered === null ? 'registration' : 'heartbeat';
        const reason = describeError(failure);
        // A refused token or credential will not fix itself; say so louder than a network blip.
        const refused = failure.status === 401 || failure.status === 403;
        if (failures === 0)
          this.logger[refused ? 'error' : 'warn'](
            { reason, status: failure.status },
            `${action} failed; retrying with backoff`,
          );
        else this.logger.debug({ reason, failures }, `${action} failed again`);
        await sleep(fullJitterDelay(failures++, this.timings.retry), signal);
      }
    }
  }

  private async register(signal: AbortSignal): Promise<void> {
    const body = await this.options.registration();
    const text = await this.post('/nodes/register', this.options.nodeToken, body, signal);
    const answer = parseAnswer('/nodes/register', text, RegisterResponseSchema);
    this.registered = answer;
    this.logger.info(
      { nodeId: answer.nodeId, heartbeatIntervalMs: answer.heartbeatIntervalMs },
      'registered with the gateway',
    );
  }

  private async beat(credential: string, signal: AbortSignal): Promise<void> {
    const body = await this.options.heartbeat();
    const text = await this.post('/nodes/heartbeat', credential, body, signal);
    const answer = parseAnswer('/nodes/heartbeat', text, HeartbeatResponseSchema);
    if (answer.draining !== this.gatewaySaysDraining) {
      this.gatewaySaysDraining = answer.draining;
      this.logger.info({ draining: answer.draining }, 'gateway changed the node’s draining flag');
    }
  }

  private intervalMs(): number {
    const suggested = this.registered?.heartbeatIntervalMs ?? DEFAULT_TIMINGS.retry.baseMs;
    return Math.min(suggested, this.timings.maxHeartbeatIntervalMs ?? suggested);
  }

  /** POSTs JSON and returns the answer's text; throws GatewayError when unreachable or not 2xx. */
  private async post(path: string, token: string, body: unknown, signal?: AbortSignal): Promise<string> {
    const url = `${this.options.gatewayUrl.replace(/\/+$/, '')}${path}`;
    const timeout = AbortSignal.timeout(this.timings.requestTimeoutMs);
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (cause) {
      throw new GatewayError(`cannot reach the gateway at ${url}`, { status: null, code: null, cause });
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      const { message, code } = readErrorBody(text);
      throw new GatewayError(`${path} answered ${response.status}: ${message ?? response.statusText}`, {
        status: response.status,
        code,
      });
    }
    return text;
  }
}

function parseAnswer<T>(path: string, text: string, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(safeJson(text));
  if (parsed.success) return parsed.data;
  throw new GatewayError(`${path} answered with an unexpected body`, {
    status: 200,
    code: null,
    cause: parsed.error,
  });
}

function asGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  return new GatewayError(error instanceof Error ? error.message : String(error), {
    status: null,
    code: null,
    cause: error,
  });
}

/** One line for the log: the message and its causes ("cannot reach …: fetch failed: connect ECONNREFUSED …"). */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error && parts.length < 5; current = current.cause)
    parts.push(current.message);
  return parts.length > 0 ? parts.join(': ') : String(error);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readErrorBody(text: string): { message: string | null; code: string | null } {
  const body = safeJson(text) as { error?: { message?: unknown; code?: unknown } } | undefined;
  const message = typeof body?.error?.message === 'string' ? body.error.message : null;
  const code = typeof body?.error?.code === 'string' ? body.error.code : null;
  return { message, code };
}
