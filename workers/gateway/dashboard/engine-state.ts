/**
 * What the dashboard says about an engine. Its reported state holds only while its node
 * reports: on a node that stopped heartbeating the engine is `unknown`, never `ready`.
 */
import type { Tone } from './components.tsx';
import type { NodeView } from './types.ts';

type Engine = NodeView['engines'][number];

export interface EngineStatus {
  label: string;
  tone: Tone;
  /** The pool would lease this engine now. */
  routable: boolean;
}

export function engineStatus(node: NodeView, engine: Engine): EngineStatus {
  if (node.status !== 'healthy') return { label: 'unknown', tone: 'idle', routable: false };
  if (engine.state === 'ready') {
    return node.draining
      ? { label: 'ready · draining', tone: 'warn', routable: false }
      : { label: 'ready', tone: 'ok', routable: true };
  }
  const tone =
    engine.state === 'crashloop' || engine.state === 'unhealthy'
      ? 'bad'
      : engine.state === 'stopped'
        ? 'idle'
        : 'warn';
  return { label: engine.state, tone, routable: false };
}

export function nodeStatus(node: NodeView): { label: string; tone: Tone } {
  if (node.status !== 'healthy') return { label: 'unhealthy', tone: 'bad' };
  return node.draining ? { label: 'draining', tone: 'warn' } : { label: 'healthy', tone: 'ok' };
}

export function engineCounts(nodes: NodeView[]): { routable: number; total: number } {
  let routable = 0;
  let total = 0;
  for (const node of nodes) {
    for (const engine of node.engines) {
      total += 1;
      if (engineStatus(node, engine).routable) routable += 1;
    }
  }
  return { routable, total };
}
