/**
 * What the operator lets the nodes of one node token do: serve only these models (names or
 * `prefix*` patterns), with at most this many concurrent requests per engine, under an owner's
 * name (shown to clients as the model's `owned_by`). A node is trusted exactly this far: a
 * registration or heartbeat that claims more is refused, with the reason.
 */
import * as z from '../zod-mini.ts';
import { modelAllowed, ModelPatternSchema } from '../keys/model-patterns.ts';

/** Who runs a token's nodes (a person, a team, a provider): what a tenant may choose to trust. */
export const NodeOwnerSchema = z.string().check(z.trim(), z.minLength(1), z.maxLength(128));

export const NodeScopeSchema = z.strictObject({
  /** Who runs these nodes (a person, a team, a provider). */
  owner: z._default(NodeOwnerSchema, 'operator'),
  /** The model names (or `prefix*` patterns) these nodes may serve. Required: no token serves anything by default. */
  models: z.array(ModelPatternSchema).check(z.minLength(1), z.maxLength(1000)),
  /** The most concurrent requests one engine may claim (its `maxConcurrency`). */
  maxConcurrency: z.optional(z.int().check(z.positive(), z.lte(100_000))),
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
