/**
 * The engine simulator: an OpenAI-compatible server that behaves like vLLM for a router's
 * purposes (endpoints, streaming, /metrics, latency under load, prefix caching, failures).
 * A labelled test and demo tool, never presented as an engine. See docs/simulator.md.
 */
import { Command } from 'commander';
import { addSimFlags, parseSimOptions, type SimOptions } from './options.ts';
import { type RunningSimulator, startSimulator } from './server.ts';
import { onOrphaned } from '../processes/parent-watch.ts';

export { addSimFlags, parseSimOptions, simCommandLineFlags, simOptionsSchema } from './options.ts';
export type { SimFlag, SimOptions } from './options.ts';
export { servedRoutes } from './endpoints.ts';
export { SimError } from './sim-error.ts';
export { startSimulator } from './server.ts';
export type { RunningSimulator } from './server.ts';

/** Parses simulator flags (argv without the node and script entries) into validated options. */
export function parseSimArgs(argv: readonly string[]): SimOptions {
  const command = addSimFlags(new Command('switchyard-sim'))
    .description('OpenAI-compatible engine simulator (a test and demo tool, not an inference engine)')
    .allowExcessArguments(false);
  command.parse([...argv], { from: 'user' });
  return parseSimOptions(command.opts());
}

/**
 * Runs the simulator as the main thing in this process: prints where it listens on stdout and
 * closes on SIGTERM or SIGINT, exiting 0 (a supervisor's stop is not a crash).
 */
export async function runSimulator(options: Partial<SimOptions>): Promise<RunningSimulator> {
  const simulator = await startSimulator(options);
  const stop = (): void => {
    void simulator.close().then(() => process.exit(0));
  };
  // Before the "listening" line: whoever reads it may signal at once.
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Launched by an agent that was then SIGKILLed: stop rather than linger holding the port.
  onOrphaned(stop);
  const { servedModelName, engineId, task } = simulator.options;
  process.stdout.write(
    `switchyard-sim listening on ${simulator.url} (model ${servedModelName}, task ${task}, engine ${engineId})\n`,
  );
  return simulator;
}
