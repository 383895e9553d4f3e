/** The adapter for each engine kind, and where an engine answers. */
import type { EngineKind } from '../../src/protocol/node-api.ts';
import type { EngineAdapter, EngineConfig } from './engine-adapter.ts';
import { externalAdapter } from './external.ts';
import { ENGINE_HOST } from './launch.ts';
import { llamacppAdapter } from './llamacpp.ts';
import { lmdeployAdapter } from './lmdeploy.ts';
import { sglangAdapter } from './sglang.ts';
import { simAdapter } from './sim.ts';
import { vllmAdapter } from './vllm.ts';

const ADAPTERS: Record<EngineKind, EngineAdapter> = {
  vllm: vllmAdapter,
  sglang: sglangAdapter,
  lmdeploy: lmdeployAdapter,
  llamacpp: llamacppAdapter,
  external: externalAdapter,
  sim: simAdapter,
};

export function adapterFor(kind: EngineKind): EngineAdapter {
  return ADAPTERS[kind];
}

/** The base URL (no trailing slash, no /v1) the agent probes, scrapes and proxies to. */
export function engineBaseUrl(engine: EngineConfig): string {
  return (engine.url ?? `http://${ENGINE_HOST}:${engine.port}`).replace(/\/+$/, '');
}
