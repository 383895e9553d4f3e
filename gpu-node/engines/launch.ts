/**
 * What every launched engine's command has in common: the owner's `command` replaces only the
 * executable (a venv's `vllm`, another `python3`), the owner's `args` come after ours so they
 * can add any engine flag, `gpus` pin the engine to its devices, and the API key goes in the
 * environment, never in the arguments.
 */
import type { EngineConfig, LaunchCommand } from './engine-adapter.ts';

/** The address every launched engine binds to: the agent's proxy is its only door. */
export const ENGINE_HOST = '127.0.0.1';

/**
 * Variables added to the agent's own environment for the engine. `env` comes last so an owner
 * who sets CUDA_VISIBLE_DEVICES by hand gets exactly that. With no `gpus`, nothing is pinned
 * and the engine sees every device.
 */
export function launchEnv(engine: EngineConfig): Record<string, string> {
  const pinned: Record<string, string> = {};
  if (engine.gpus.length > 0) pinned.CUDA_VISIBLE_DEVICES = engine.gpus.join(',');
  return { ...pinned, ...engine.env };
}

/** `keyEnv` names the variable the engine reads its API key from; it wins over the owner's `env`. */
export function launchWith(
  engine: EngineConfig,
  executable: string,
  args: string[],
  keyEnv: Record<string, string>,
): LaunchCommand {
  return {
    command: engine.command ?? executable,
    args: [...args, ...engine.args],
    env: { ...launchEnv(engine), ...keyEnv },
  };
}
