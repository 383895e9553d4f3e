/**
 * SGLang and LMDeploy take their API key only as a command-line argument (`--api-key`,
 * `--api-keys`; neither reads an environment variable), and any local user can read a command
 * line with `ps`. So the agent starts their Python with a one-line program that appends the
 * flag to `sys.argv` inside the interpreter, taking the key from an environment variable (the
 * environment of a process is readable only by its user) and deleting that variable first, so
 * the engine's own workers do not inherit it; then it runs the engine's module as `python -m`
 * would. The engine parses `sys.argv` as usual; `/proc/<pid>/cmdline` never holds the key.
 */
import type { EngineConfig, LaunchCommand } from './engine-adapter.ts';
import { launchWith } from './launch.ts';

export const PYTHON_KEY_ENV = 'GPU_NODE_ENGINE_API_KEY';

/** `python3 -c <program> …args`: `module` run as __main__, with `key.flag key.apiKey` appended to its argv. */
export function launchPythonWithKey(
  engine: EngineConfig,
  module: string,
  key: { flag: string; apiKey: string },
  args: string[],
): LaunchCommand {
  const program = [
    'import os, runpy, sys',
    `sys.argv += [${JSON.stringify(key.flag)}, os.environ.pop(${JSON.stringify(PYTHON_KEY_ENV)})]`,
    `runpy.run_module(${JSON.stringify(module)}, run_name="__main__", alter_sys=True)`,
  ].join('; ');
  return launchWith(engine, 'python3', ['-c', program, ...args], { [PYTHON_KEY_ENV]: key.apiKey });
}
