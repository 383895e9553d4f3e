/**
 * Model allow-lists: exact names, or a prefix ending in `*` (`llama-3*`), or `*` for any.
 * Used for what a key may call and, later, what a node may serve.
 */
import * as z from '../zod-mini.ts';

export const ModelPatternSchema = z
  .string()
  .check(
    z.minLength(1),
    z.maxLength(256),
    z.regex(/^[^*]*\*?$/, 'a model name, optionally ending in `*` to match a prefix'),
  );

/** True when `model` matches one of `patterns`; a missing list allows every model. */
export function modelAllowed(patterns: readonly string[] | null | undefined, model: string): boolean {
  if (!patterns) return true;
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : model === pattern,
  );
}
