/**
 * What the operator lets the nodes of one node token do: serve only these models (names or
 * `prefix*` patterns), with at most this many concurrent requests per engine, under an owner's
 * name (shown to clients as the model's `owned_by`). A node is trusted exactly this far: a
 * registration or heartbeat that claims more is refused, with the reason.
 */
import { z } from 'zod';
import { modelAllowed, ModelPatternSchema } from '../keys/model-patterns.ts';

export const NodeScopeSchema = z.strictObject({
  /** Who runs these nodes (a person, a team, a provider). */
  owner: z.string().trim().min(1).max(128).default('operator'),
  /** The model names (or `prefix*` patterns) these nodes may serve. Required: no token serves anything by default. */
  models: z.array(ModelPatternSchema).min(1).max(1000),
  /** The most concurrent requests one engine may claim (its `maxConcurrency`). */
  maxConcurrency: z.number().int().positive().max(100_000).optional(),
});
export type NodeScope = z.infer<typeof NodeScopeSchema>;

/** The first way `engines` exceed `scope`, said so a node owner can fix it; null when within it. */
export function scopeViolation(
  scope: NodeScope,
  engines: ReadonlyArray<{ id: string; model: string; maxConcurrency: number }>,
): string | null {
  for (const engine of engines) {
    if (!modelAllowed(scope.models, engine.model)) {
      return `engine ${engine.id} serves \`${engine.model}\`, which this node token does not allow (it allows ${scope.models.join(', ')})`;
    }
    if (scope.maxConcurrency !== undefined && engine.maxConcurrency > scope.maxConcurrency) {
      return `engine ${engine.id} claims maxConcurrency ${engine.maxConcurrency}; this node token allows at most ${scope.maxConcurrency}`;
    }
  }
  return null;
}
