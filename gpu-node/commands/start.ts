/**
 * `gpu-node start`: run the agent until SIGTERM/SIGINT, then drain. Exits 3 when the gateway
 * refuses the node token, a refusal no restart can fix (the systemd unit does not restart on 3).
 */
import { Agent } from '../agent.ts';
import { loadAgentConfig } from '../config.ts';
import type { GatewayError } from '../gateway-http.ts';
import { createLogger, type LogLevel } from '../logger.ts';
import type { Listen } from '../port-claims.ts';

const EXIT_TOKEN_REFUSED = 3;

export interface StartOptions {
  config: string;
  logLevel: LogLevel;
  metricsListen: Listen | null;
}

export async function startAgent(options: StartOptions): Promise<void> {
  const logger = createLogger(options.logLevel);
  const config = await loadAgentConfig(options.config);
  const agent: Agent = new Agent({
    config,
    logger,
    metricsListen: options.metricsListen,
    refused: (error) => {
      process.stderr.write(refusalMessage(error, config.gateway.url, options.config));
      const exit = () => process.exit(EXIT_TOKEN_REFUSED);
      agent.shutdown().then(exit, exit);
    },
  });
  // Whatever ends this process, no engine group may outlive it.
  process.on('exit', () => agent.killEnginesNow());
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'agent crashed');
    process.exit(1);
  });
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: no longer waiting for in-flight requests');
      agent.hurryShutdown();
      return;
    }
    logger.info({ signal }, 'shutting down');
    agent.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.fatal({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () =>
    logger.info({ revived: agent.reviveCrashLooped() }, 'SIGHUP: restarting crash-looped engines'),
  );
  await agent.start();
}

function refusalMessage(error: GatewayError, gatewayUrl: string, configPath: string): string {
  return [
    `gpu-node: the gateway at ${gatewayUrl} refused the node token (${error.status} ${error.code ?? ''}).`,
    '  The token is unknown or has been revoked; retrying cannot change that, so the agent stopped.',
    `  Ask the gateway operator for a new node token, put it in ${configPath} (gateway.nodeToken, or the`,
    '  variable gateway.nodeTokenEnv names), check it with `gpu-node check`, then start again.',
    `  The gateway said: ${error.message}`,
    '',
  ].join('\n');
}
