/**
 * The running agent's current registration, kept in `stateFile` so that `gpu-node status` (a
 * separate process) can ask the gateway what it holds about this node. The file holds the node
 * credential, so it is created owner-only, replaced atomically at every registration, and
 * removed when the agent deregisters or starts afresh.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';

const NodeStateSchema = z.object({
  gatewayUrl: z.string(),
  nodeId: z.string(),
  credential: z.string(),
  registeredAt: z.number(),
  /** The agent that registered, so `status` can say whether it still runs. */
  pid: z.number().int(),
});
export type NodeState = z.infer<typeof NodeStateSchema>;

export async function writeNodeState(path: string, state: NodeState): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const next = `${path}.${process.pid}.tmp`;
  await writeFile(next, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(next, path);
}

/** Null when there is no file (the agent never registered, or deregistered). */
export async function readNodeState(path: string): Promise<NodeState | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  return NodeStateSchema.parse(JSON.parse(text));
}

export async function removeNodeState(path: string): Promise<void> {
  await rm(path, { force: true });
}
