/**
 * The agent's side of the node protocol (src/protocol/node-api.ts): register with the node
 * token, heartbeat with the credential it returns, register again when the gateway has
 * forgotten the node, and keep trying with capped full-jitter backoff while it is unreachable.
 * A registration refused for the token itself (unknown or revoked) ends the loop instead: no
 * retry can fix it, and the agent stops with a message rather than knocking forever.
 * Logs changes (registered, lost, back), not every beat.
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  type HeartbeatRequest,
  HeartbeatResponseSchema,
  NODE_UNKNOWN_CODE,
  type RegisterRequest,
  type RegisterResponse,
  RegisterResponseSchema,
} from '../src/protocol/node-api.ts';
import { type BackoffPolicy, fullJitterDelay, sleep } from './backoff.ts';
import {
  asGatewayError,
  callGateway,
  describeError,
  type GatewayError,
  isTokenRefusal,
} from './gateway-http.ts';

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
  /** Called at every successful registration, with the node id and credential it brought. */
  registered?(answer: RegisterResponse): void;
  /** Called once when the gateway refuses the node token; the client has stopped trying. */
  refused?(error: GatewayError): void;
}

/** Drain and deregister answer `{ ok: true, … }`; nothing else in them matters here. */
const AcknowledgedSchema = z.looseObject({ ok: z.literal(true) });

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
    if (credential !== null)
      await this.post('/nodes/drain', credential, { body: {}, answer: AcknowledgedSchema });
  }

  async deregister(): Promise<void> {
    const credential = this.credential;
    if (credential === null) return;
    await this.post('/nodes/deregister', credential, { body: {}, answer: AcknowledgedSchema });
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
        if (this.registered === null && isTokenRefusal(failure)) {
          this.logger.fatal(
            { reason: describeError(failure), status: failure.status, code: failure.code },
            'the gateway refused the node token; not retrying',
          );
          this.options.refused?.(failure);
          return;
        }
        const action = this.registered === null ? 'registration' : 'heartbeat';
        const reason = describeError(failure);
        // A refused credential will not fix itself; say so louder than a network blip.
        const refused = isTokenRefusal(failure);
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
    const answer = await this.post('/nodes/register', this.options.nodeToken, {
      body: await this.options.registration(),
      answer: RegisterResponseSchema,
      signal,
    });
    this.registered = answer;
    this.options.registered?.(answer);
    this.logger.info(
      { nodeId: answer.nodeId, heartbeatIntervalMs: answer.heartbeatIntervalMs },
      'registered with the gateway',
    );
  }

  private async beat(credential: string, signal: AbortSignal): Promise<void> {
    const answer = await this.post('/nodes/heartbeat', credential, {
      body: await this.options.heartbeat(),
      answer: HeartbeatResponseSchema,
      signal,
    });
    if (answer.draining !== this.gatewaySaysDraining) {
      this.gatewaySaysDraining = answer.draining;
      this.logger.info({ draining: answer.draining }, 'gateway changed the node’s draining flag');
    }
  }

  private intervalMs(): number {
    const suggested = this.registered?.heartbeatIntervalMs ?? DEFAULT_TIMINGS.retry.baseMs;
    return Math.min(suggested, this.timings.maxHeartbeatIntervalMs ?? suggested);
  }

  private post<T>(
    path: string,
    token: string,
    request: { body: unknown; answer: z.core.$ZodType<T>; signal?: AbortSignal },
  ): Promise<T> {
    const { gatewayUrl } = this.options;
    return callGateway({ gatewayUrl, path, token, timeoutMs: this.timings.requestTimeoutMs, ...request });
  }
}
