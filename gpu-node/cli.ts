/**
 * `gpu-node`: enrol a node (`init`), check it (`check`), run it (`start`), ask the gateway about
 * it (`status`), run it as a service (`install-service`), or run the engine simulator (`sim`).
 * Exit codes: 0 fine; 1 a failure (or `check` found errors); 2 the configuration or flags are
 * wrong; 3 the gateway refused the node token. Each command lives in commands/, loaded only when
 * it runs: an agent that holds the simulator or `init`'s machinery in memory for nothing is
 * tens of MB larger.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  DEFAULT_CONFIG,
  DEFAULT_METRICS_LISTEN,
  DEFAULT_UNIT_PATH,
  NODE_TOKEN_ENV,
  parseListen,
} from './commands/options.ts';
import { ConfigError } from './config.ts';
import { type EngineRequest, parseEngineRequest } from './enrol.ts';
import { LOG_LEVELS } from './logger.ts';
import { addSimFlags, parseSimOptions } from './sim/options.ts';
import { SimError } from './sim/sim-error.ts';
import { StartError } from './start-error.ts';
import { relaunchWithCappedYoungGeneration } from './young-generation.ts';
import { AGENT_VERSION } from './version.ts';

const configOption = () =>
  new Option('--config <file>', 'agent configuration (YAML or JSON)').default(DEFAULT_CONFIG);
const metricsListenOption = () =>
  new Option('--metrics-listen <host:port|off>', "where the agent's Prometheus /metrics listens")
    .argParser(parseListen)
    .default(parseListen(DEFAULT_METRICS_LISTEN), DEFAULT_METRICS_LISTEN);

function collectEngine(value: string, previous: EngineRequest[]): EngineRequest[] {
  try {
    return [...previous, parseEngineRequest(value)];
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function requiredListen(value: string) {
  const listen = parseListen(value);
  if (!listen) throw new InvalidArgumentError('expected host:port');
  return listen;
}

export function buildCli(): Command {
  const program = new Command('gpu-node')
    .description(
      'Switchyard GPU node agent: supervises local inference engines and proxies the gateway to them',
    )
    .version(AGENT_VERSION);

  program
    .command('init')
    .description(
      `write a working configuration: register with --gateway using --token (or ${NODE_TOKEN_ENV}), serving each --engine`,
    )
    .option('--gateway <url>', "the gateway's base URL")
    .option('--token <snt-…>', `the node token (prefer ${NODE_TOKEN_ENV}: a flag is visible in ps)`)
    .option(
      '--engine <kind=model>',
      'an engine to run, e.g. vllm=Qwen/Qwen2.5-7B-Instruct (repeatable)',
      collectEngine,
      [],
    )
    .option('--name <name>', "this node's name at the gateway (default: the host name)")
    .addOption(
      new Option('--listen <host:port>', "where the agent's proxy listens")
        .argParser(requiredListen)
        .default(requiredListen('0.0.0.0:8100'), '0.0.0.0:8100'),
    )
    .option('--public-url <url>', 'how the gateway reaches the proxy (default: http://<this IPv4>:<port>)')
    .option('--output <file>', 'where to write it', DEFAULT_CONFIG)
    .option('--force', 'overwrite an existing file')
    .option('--example', 'write the commented example with every field instead')
    .action(async (options) => (await import('./commands/init.ts')).initConfig(options));

  program
    .command('check')
    .description(
      'check the config, this machine (binaries, GPUs, ports) and the gateway (token); exit 1 on errors',
    )
    .addOption(configOption())
    .addOption(metricsListenOption())
    .action(async (options) => (await import('./commands/check.ts')).checkConfig(options));

  program
    .command('start')
    .description('start the engines, register with the gateway, and serve until SIGTERM/SIGINT (then drain)')
    .addOption(configOption())
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .addOption(metricsListenOption())
    .action(async (options) => {
      relaunchWithCappedYoungGeneration();
      await (await import('./commands/start.ts')).startAgent(options);
    });

  program
    .command('status')
    .description('print what the gateway knows of this node (needs a running, registered agent)')
    .addOption(configOption())
    .option('--json', 'print the gateway’s answer as JSON')
    .action(async (options) => (await import('./commands/status.ts')).showStatus(options));

  program
    .command('install-service')
    .description('write a systemd unit that runs `gpu-node start` with this config')
    .addOption(configOption())
    .option('--user <name>', 'the user the agent runs as (default: you)')
    .option('--output <file>', 'where to write the unit', DEFAULT_UNIT_PATH)
    .action(async (options) => (await import('./commands/install-service.ts')).installService(options));

  addSimFlags(
    program
      .command('sim')
      .description(
        'run the engine simulator (a test and demo tool, not an inference engine); like vLLM it reads VLLM_API_KEY',
      )
      .allowExcessArguments(false),
  ).action(async (options: Record<string, unknown>) => {
    // The agent hands the key over in the environment, where `ps` does not show it.
    const apiKey = options.apiKey ?? (process.env.VLLM_API_KEY || undefined);
    const { runSimulator } = await import('./sim/index.ts');
    await runSimulator(parseSimOptions({ ...options, apiKey }));
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
    const cause = error instanceof StartError && error.cause ? `: ${(error.cause as Error).message}` : '';
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`gpu-node: ${message}${cause}\n`);
    process.exit(1);
  }
}
