/**
 * Wires one node: a supervisor per engine, the proxy in front of them, the gateway client
 * that registers and heartbeats, and the agent's metrics. `start()` claims every port first and
 * refuses to start without one of them. `shutdown()` is the drain: tell the gateway, refuse new
 * requests, let in-flight ones finish (bounded), deregister, stop engines.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { EngineReport, RegisterResponse } from '../src/protocol/node-api.ts';
import { type AgentMetrics, createAgentMetrics } from './agent-metrics.ts';
import type { AgentConfig } from './config.ts';
import { adapterFor } from './engines/index.ts';
import { GatewayClient } from './gateway-client.ts';
import { describeError, type GatewayError } from './gateway-http.ts';
import { GpuStatsCache } from './gpu-stats.ts';
import { type MetricsServer, startMetricsServer } from './metrics-server.ts';
import { removeNodeState, writeNodeState } from './node-state.ts';
import {
  describeTaken,
  isTaken,
  type Listen,
  portClaims,
  probeClaims,
  TAKEN_PORT_HINT,
} from './port-claims.ts';
import { AgentProxy } from './proxy.ts';
import { StartError } from './start-error.ts';
import { EngineSupervisor } from './supervisor.ts';
import { AGENT_VERSION } from './version.ts';

/**
 * Log lines shared by all engines in one heartbeat. The gateway caps a report at 256 KiB; JSON
 * escaping (ANSI colour codes become `\u001b`) can multiply a line's size, so stay well under.
 */
const HEARTBEAT_LOG_CHARS = 64 * 1024;

export interface AgentOptions {
  config: AgentConfig;
  logger: Logger;
  /** Where the agent's own /metrics listens; null turns it off. */
  metricsListen: Listen | null;
  /** The gateway refused the node token for good; the agent has stopped trying to register. */
  refused?(error: GatewayError): void;
}

export class Agent {
  private readonly supervisors: ReadonlyMap<string, EngineSupervisor>;
  private readonly metrics: AgentMetrics;
  private readonly options: AgentOptions;
  private readonly logger: Logger;
  private readonly proxy: AgentProxy;
  private readonly gateway: GatewayClient;
  private metricsServer: MetricsServer | null = null;
  private shuttingDown: Promise<void> | null = null;
  private readonly hurry = new AbortController();
  private stateFileWork = Promise.resolve();

  constructor(options: AgentOptions) {
    const { config, logger } = options;
    this.options = options;
    this.logger = logger;
    this.metrics = createAgentMetrics();
    const supervisors = new Map<string, EngineSupervisor>();
    for (const engine of config.engines) {
      this.metrics.setEngineState(engine.id, 'starting');
      supervisors.set(
        engine.id,
        new EngineSupervisor({
          engine,
          adapter: adapterFor(engine.kind),
          logDir: config.logDir,
          logger,
          timings: {
            healthIntervalMs: config.engineHealth.intervalMs,
            probeTimeoutMs: config.engineHealth.timeoutMs,
            unhealthyAfterFailures: config.engineHealth.unhealthyAfterFailures,
          },
          hooks: {
            stateChanged: (state) => {
              this.metrics.setEngineState(engine.id, state);
              this.gateway.beatSoon();
            },
            restarted: () => this.metrics.restarts.inc({ engine: engine.id }),
            healthFailed: (failures) => this.endRequestsIfHung(engine.id, failures),
          },
        }),
      );
    }
    this.supervisors = supervisors;
    const gpuStats = new GpuStatsCache();
    this.gateway = new GatewayClient({
      gatewayUrl: config.gateway.url,
      nodeToken: config.gateway.nodeToken,
      logger,
      timings: { maxHeartbeatIntervalMs: config.heartbeatIntervalMs },
      registration: async () => ({
        name: config.node.name,
        url: config.node.publicUrl,
        agentVersion: AGENT_VERSION,
        engines: this.engineReports(),
        gpus: await gpuStats.read(),
      }),
      heartbeat: async () => ({ engines: this.engineReports(), gpus: await gpuStats.read() }),
      failed: () => this.metrics.heartbeatFailures.inc(),
      registered: (answer) => void this.rememberRegistration(answer),
      refused: (error) => options.refused?.(error),
    });
    this.proxy = new AgentProxy({
      findEngine: (id) => supervisors.get(id),
      credential: () => this.gateway.credential,
      metrics: this.metrics,
      logger,
    });
  }

  /**
   * Claims the proxy and metrics ports, starts the engines, then registers; returns the proxy's
   * address. Throws StartError, with nothing launched, when a port it needs is taken.
   */
  async start(): Promise<AddressInfo> {
    const { config, metricsListen } = this.options;
    const taken = (await probeClaims(portClaims(config, metricsListen))).filter(isTaken);
    if (taken.length > 0) {
      throw new StartError([...taken.map(describeTaken), TAKEN_PORT_HINT].join('\n'));
    }
    // A registration left from an earlier run says nothing about this one.
    await this.forgetRegistration();
    const address = await this.proxy.listen(config.node.listen.host, config.node.listen.port);
    this.logger.info({ address, publicUrl: config.node.publicUrl }, 'proxy listening');
    if (metricsListen) {
      try {
        this.metricsServer = await startMetricsServer(
          this.metrics.registry,
          metricsListen.host,
          metricsListen.port,
        );
      } catch (error) {
        await this.proxy.close();
        throw new StartError(`cannot listen for metrics on ${metricsListen.host}:${metricsListen.port}`, {
          cause: error,
        });
      }
      this.logger.info({ address: this.metricsServer.address }, 'metrics listening');
    }
    for (const supervisor of this.supervisors.values()) supervisor.start();
    this.gateway.start();
    return address;
  }

  /**
   * A hung engine holds its requests until the gateway's first-byte timeout (minutes) unless
   * they are ended here, and nothing has reached their clients yet for most of them, so the
   * gateway can still retry them elsewhere. Hung means failing its health checks and silent on
   * every request in flight: neither alone, since a busy engine's check can time out and a
   * non-streamed generation sends nothing until it is done. The supervisor has already marked
   * it unhealthy (no new requests) and restarts it if that lasts.
   */
  private endRequestsIfHung(engineId: string, failures: number): void {
    const { unhealthyAfterFailures, hungAfterSilentMs } = this.options.config.engineHealth;
    if (failures < unhealthyAfterFailures) return;
    const silentMs = this.proxy.silentForMs(engineId);
    if (silentMs === null || silentMs < hungAfterSilentMs) return;
    const ended = this.proxy.endHung(engineId);
    this.metrics.hangs.inc({ engine: engineId });
    const note = `hung (${failures} failed health checks, no byte for ${Math.round(silentMs)} ms): ended ${ended} in-flight request(s)`;
    this.supervisors.get(engineId)?.log.note(note);
    this.logger.warn({ engine: engineId, failures, silentMs: Math.round(silentMs), ended }, 'engine hung');
  }

  /** Engines in `crashloop` get a fresh start (SIGHUP); returns how many. */
  reviveCrashLooped(): number {
    let revived = 0;
    for (const supervisor of this.supervisors.values()) if (supervisor.revive()) revived += 1;
    return revived;
  }

  /** Drains and stops everything; calling it again returns the same promise. */
  shutdown(): Promise<void> {
    this.shuttingDown ??= this.drainAndStop();
    return this.shuttingDown;
  }

  /** Stops waiting for in-flight requests (a second SIGTERM/SIGINT). */
  hurryShutdown(): void {
    this.hurry.abort();
  }

  /** Synchronous last resort for `process.on('exit')`: no engine group outlives the agent. */
  killEnginesNow(): void {
    for (const supervisor of this.supervisors.values()) supervisor.killNow();
  }

  private async drainAndStop(): Promise<void> {
    const { config } = this.options;
    this.logger.info({ drainTimeoutMs: config.drainTimeoutMs }, 'draining');
    await this.gateway
      .drain()
      .catch((error: unknown) =>
        this.logger.warn({ reason: describeError(error) }, 'could not tell the gateway'),
      );
    this.proxy.startDraining();
    const inFlight = this.proxy.inFlightTotal();
    if (inFlight > 0) {
      this.logger.info({ inFlight }, 'waiting for in-flight requests');
      const hurried = new Promise<boolean>((resolve) =>
        this.hurry.signal.addEventListener('abort', () => resolve(false)),
      );
      const idle = await Promise.race([this.proxy.waitUntilIdle(config.drainTimeoutMs), hurried]);
      if (!idle)
        this.logger.warn({ inFlight: this.proxy.inFlightTotal() }, 'drain cut short; dropping what is left');
    }
    await this.gateway.stop();
    await this.gateway
      .deregister()
      .catch((error: unknown) => this.logger.warn({ reason: describeError(error) }, 'could not deregister'));
    await this.forgetRegistration();
    await this.proxy.close();
    await Promise.all([...this.supervisors.values()].map((supervisor) => supervisor.stop()));
    await this.metricsServer?.close();
    this.logger.info('stopped');
  }

  /**
   * For `gpu-node status`. Writes and removals are queued, so a removal at shutdown cannot be
   * overtaken by the write of a registration made just before. A state file the agent cannot
   * write costs only that command, so failures are logged, not fatal.
   */
  private rememberRegistration(answer: RegisterResponse): Promise<void> {
    const { config } = this.options;
    return this.queueStateFileWork('cannot write the state file; `gpu-node status` will not work', () =>
      writeNodeState(config.stateFile, {
        gatewayUrl: config.gateway.url,
        nodeId: answer.nodeId,
        credential: answer.credential,
        registeredAt: Date.now(),
        pid: process.pid,
      }),
    );
  }

  private forgetRegistration(): Promise<void> {
    const { stateFile } = this.options.config;
    return this.queueStateFileWork('cannot remove the state file', () => removeNodeState(stateFile));
  }

  private queueStateFileWork(failure: string, work: () => Promise<void>): Promise<void> {
    const { stateFile } = this.options.config;
    this.stateFileWork = this.stateFileWork
      .then(work)
      .catch((error: unknown) => this.logger.warn({ reason: describeError(error), stateFile }, failure));
    return this.stateFileWork;
  }

  private engineReports(): EngineReport[] {
    const logChars = Math.floor(HEARTBEAT_LOG_CHARS / Math.max(1, this.supervisors.size));
    return [...this.supervisors.values()].map((supervisor) => supervisor.report(logChars));
  }
}
