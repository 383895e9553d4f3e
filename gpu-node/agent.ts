/**
 * Wires one node: a supervisor per engine, the proxy in front of them, the gateway client
 * that registers and heartbeats, and the agent's metrics. `shutdown()` is the drain: tell the
 * gateway, refuse new requests, let in-flight ones finish (bounded), deregister, stop engines.
 */
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import packageJson from '../package.json' with { type: 'json' };
import type { EngineReport } from '../src/protocol/node-api.ts';
import { type AgentMetrics, createAgentMetrics } from './agent-metrics.ts';
import type { AgentConfig } from './config.ts';
import { adapterFor } from './engines/index.ts';
import { describeError, GatewayClient } from './gateway-client.ts';
import { readGpuStats } from './gpu-stats.ts';
import { type MetricsServer, startMetricsServer } from './metrics-server.ts';
import { AgentProxy } from './proxy.ts';
import { EngineSupervisor } from './supervisor.ts';

/**
 * Log lines shared by all engines in one heartbeat. The gateway caps a report at 256 KiB; JSON
 * escaping (ANSI colour codes become `\u001b`) can multiply a line's size, so stay well under.
 */
const HEARTBEAT_LOG_CHARS = 64 * 1024;

export interface AgentOptions {
  config: AgentConfig;
  logger: Logger;
  /** Where the agent's own /metrics listens; null turns it off. */
  metricsListen: { host: string; port: number } | null;
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
          hooks: {
            stateChanged: (state) => {
              this.metrics.setEngineState(engine.id, state);
              this.gateway.beatSoon();
            },
            restarted: () => this.metrics.restarts.inc({ engine: engine.id }),
          },
        }),
      );
    }
    this.supervisors = supervisors;
    this.gateway = new GatewayClient({
      gatewayUrl: config.gateway.url,
      nodeToken: config.gateway.nodeToken,
      logger,
      timings: { maxHeartbeatIntervalMs: config.heartbeatIntervalMs },
      registration: async () => ({
        name: config.node.name,
        url: config.node.publicUrl,
        agentVersion: packageJson.version,
        engines: this.engineReports(),
        gpus: await readGpuStats(),
      }),
      heartbeat: async () => ({ engines: this.engineReports(), gpus: await readGpuStats() }),
      failed: () => this.metrics.heartbeatFailures.inc(),
    });
    this.proxy = new AgentProxy({
      findEngine: (id) => supervisors.get(id),
      credential: () => this.gateway.credential,
      metrics: this.metrics,
      logger,
    });
  }

  /** Starts the proxy and the engines, then registers; returns the proxy's address. */
  async start(): Promise<AddressInfo> {
    const { config, metricsListen } = this.options;
    // Listen first: if the port is taken, no engine has been launched that would need stopping.
    const address = await this.proxy.listen(config.node.listen.host, config.node.listen.port);
    this.logger.info({ address, publicUrl: config.node.publicUrl }, 'proxy listening');
    for (const supervisor of this.supervisors.values()) supervisor.start();
    if (metricsListen) {
      try {
        this.metricsServer = await startMetricsServer(
          this.metrics.registry,
          metricsListen.host,
          metricsListen.port,
        );
        this.logger.info({ address: this.metricsServer.address }, 'metrics listening');
      } catch (error) {
        // Serving is the job; a busy metrics port should not keep the node off the gateway.
        this.logger.error(
          { reason: describeError(error), metricsListen },
          'metrics listener failed; continuing without /metrics',
        );
      }
    }
    this.gateway.start();
    return address;
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
    await this.proxy.close();
    await Promise.all([...this.supervisors.values()].map((supervisor) => supervisor.stop()));
    await this.metricsServer?.close();
    this.logger.info('stopped');
  }

  private engineReports(): EngineReport[] {
    const logChars = Math.floor(HEARTBEAT_LOG_CHARS / Math.max(1, this.supervisors.size));
    return [...this.supervisors.values()].map((supervisor) => supervisor.report(logChars));
  }
}
