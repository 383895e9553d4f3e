/**
 * What the agent needs to know about one kind of engine: how to launch it, how to tell it
 * is up, and how to read its load. One small module per engine kind implements this.
 */
import type { EngineRoute } from '../../src/protocol/engine-routes.ts';
import type { EngineKind, EngineLoad } from '../../src/protocol/node-api.ts';

/** One engine as the node owner configured it (validated by gpu-node/config.ts). */
export interface EngineConfig {
  /** Unique within the node; defaults to servedModelName. */
  id: string;
  kind: EngineKind;
  /** Weights path or hub id handed to the engine (unused by `external`). */
  model: string;
  /** The name clients use in `model`. */
  servedModelName: string;
  /** Loopback port the engine listens on (for `external`: where it already listens). */
  port: number;
  /** For `external`: the engine's base URL when it is not on 127.0.0.1:port. */
  url?: string;
  /** GPU indexes; become CUDA_VISIBLE_DEVICES. */
  gpus: number[];
  /** Extra command-line arguments appended to the launch command. */
  args: string[];
  env: Record<string, string>;
  maxConcurrency: number;
  /** Overrides the binary the adapter would run (e.g. a venv's `vllm`). */
  command?: string;
  /**
   * An external engine's own API key (from `apiKeyEnv`). Launched engines get a fresh random
   * key from the supervisor at every start instead.
   */
  apiKey?: string;
}

export interface LaunchCommand {
  command: string;
  /** Never holds the API key: any local user can read a command line (`ps`). */
  args: string[];
  /** Added to the agent's environment; the key travels here (/proc/<pid>/environ is owner-only). */
  env: Record<string, string>;
}

export interface EngineAdapter {
  kind: EngineKind;
  /** The binary `gpu-node check` looks for on PATH. Null when nothing is launched. */
  binary: string | null;
  /** For engines run by a Python interpreter (`binary`): the module it must be able to import. */
  pythonModule?: string;
  /** Null for engines the agent does not launch (`external`). `apiKey` is the engine's own key. */
  launchCommand(engine: EngineConfig, apiKey: string): LaunchCommand | null;
  /** True when the engine answers health and lists the served model. */
  probeReady(baseUrl: string, engine: EngineConfig, apiKey: string, signal: AbortSignal): Promise<boolean>;
  /** Reads the engine's load; throws when it cannot. */
  scrapeLoad(baseUrl: string, apiKey: string, signal: AbortSignal): Promise<EngineLoad>;
  /**
   * The routes this engine serves (engine-routes.ts), reported to the gateway; undefined when
   * unknown (`external`: any OpenAI-compatible server; or no method), and the gateway then tries every route.
   */
  routes?(engine: EngineConfig): readonly EngineRoute[] | undefined;
}
