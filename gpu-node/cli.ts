/**
 * `gpu-node`: start the agent, check a node before starting it, write an example config, or
 * run the engine simulator. Exit codes: 0 fine, 1 failure (or `check` found errors),
 * 2 the configuration or flags are wrong.
 */
import { writeFile } from 'node:fs/promises';
import { Command, InvalidArgumentError, Option } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { Agent } from './agent.ts';
import { checkNode } from './check.ts';
import { ConfigError, exampleConfig, loadAgentConfig } from './config.ts';
import { createLogger, LOG_LEVELS, type LogLevel } from './logger.ts';
import { addSimFlags, parseSimOptions, runSimulator, SimError } from './sim/index.ts';

const DEFAULT_METRICS_LISTEN = '127.0.0.1:9464';
const CHECK_MARKS = { ok: 'ok   ', warn: 'warn ', error: 'error' } as const;

function parseListen(value: string): { host: string; port: number } | null {
  if (value === 'off') return null;
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new InvalidArgumentError('expected host:port, a port, or "off"');
  return { host: match[1] || '127.0.0.1', port };
}

async function startAgent(options: {
  config: string;
  logLevel: LogLevel;
  metricsListen: { host: string; port: number } | null;
}) {
  const logger = createLogger(options.logLevel);
  const config = await loadAgentConfig(options.config);
  const agent = new Agent({ config, logger, metricsListen: options.metricsListen });
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

async function checkConfig(options: { config: string }) {
  const report = await checkNode(await loadAgentConfig(options.config));
  for (const line of report.lines) process.stdout.write(`${CHECK_MARKS[line.level]} ${line.message}\n`);
  process.exitCode = report.ok ? 0 : 1;
}

async function writeExampleConfig(options: { output: string; force?: boolean }) {
  await writeFile(options.output, exampleConfig, { flag: options.force ? 'w' : 'wx' });
  process.stdout.write(`wrote ${options.output}; edit it, then: gpu-node check --config ${options.output}\n`);
}

export function buildCli(): Command {
  const program = new Command('gpu-node')
    .description(
      'Switchyard GPU node agent: supervises local inference engines and proxies the gateway to them',
    )
    .version(packageJson.version);

  program
    .command('start')
    .description('start the engines, register with the gateway, and serve until SIGTERM/SIGINT (then drain)')
    .requiredOption('--config <file>', 'agent configuration (YAML or JSON)')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addOption(
      new Option('--metrics-listen <host:port|off>', "where the agent's Prometheus /metrics listens")
        .argParser(parseListen)
        .default(parseListen(DEFAULT_METRICS_LISTEN), DEFAULT_METRICS_LISTEN),
    )
    .action(startAgent);

  program
    .command('check')
    .description('validate the config and this machine (binaries, GPUs, ports); exits 1 on errors')
    .requiredOption('--config <file>', 'agent configuration (YAML or JSON)')
    .action(checkConfig);

  program
    .command('init')
    .description('write a commented example configuration')
    .option('--output <file>', 'where to write it', 'gpu-node.yaml')
    .option('--force', 'overwrite an existing file')
    .action(writeExampleConfig);

  addSimFlags(
    program
      .command('sim')
      .description('run the engine simulator (a test and demo tool, not an inference engine)')
      .allowExcessArguments(false),
  ).action(async (options: Record<string, unknown>) => {
    await runSimulator(parseSimOptions(options));
  });

  return program;
}

/** Runs the CLI; readable messages instead of stack traces for the errors an owner can fix. */
export async function runCli(argv: readonly string[]): Promise<void> {
  try {
    await buildCli().parseAsync([...argv]);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SimError) {
      // A file the loader could not read says why (ENOENT, EACCES); validation causes are already listed.
      const cause = error.cause instanceof Error && 'code' in error.cause ? ` (${error.cause.message})` : '';
      process.stderr.write(`gpu-node: ${error.message}${cause}\n`);
      process.exit(2);
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`gpu-node: ${message}\n`);
    process.exit(1);
  }
}
