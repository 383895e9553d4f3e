/**
 * A seeded JSON value that fits a JSON Schema's shape: types (or the first non-null of a type
 * list), `const`, `enum`, `properties` (every declared property, so `required` always holds),
 * `items` / `prefixItems` with `minItems` / `maxItems`, numeric bounds, string lengths and common
 * formats, `anyOf` / `oneOf` (one branch), `allOf` (merged) and local `$ref`s. `pattern` is not
 * honoured. What guided decoding gives a real engine, minus the language.
 */
import { WORDS } from '../text-model.ts';

type Schema = Record<string, unknown>;
type Random = () => number;

/** Past this depth, recursive schemas stop growing: optional properties and optional items go. */
const MAX_DEPTH = 6;

function asSchema(node: unknown): Schema {
  return typeof node === 'object' && node !== null && !Array.isArray(node) ? (node as Schema) : {};
}

function pick<T>(items: readonly T[], random: Random): T {
  return items[Math.floor(random() * items.length)] as T;
}

function words(random: Random, count: number): string {
  return Array.from({ length: count }, () => pick(WORDS, random)).join(' ');
}

function resolveRef(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return {};
  const path = ref.slice(1).split('/').filter(Boolean);
  let node: unknown = root;
  for (const segment of path) node = asSchema(node)[segment.replaceAll('~1', '/').replaceAll('~0', '~')];
  return node ?? {};
}

function typeOf(schema: Schema): string {
  const { type } = schema;
  if (typeof type === 'string') return type;
  if (Array.isArray(type)) return String(type.find((candidate) => candidate !== 'null') ?? 'null');
  if (schema.properties !== undefined) return 'object';
  if (schema.items !== undefined || schema.prefixItems !== undefined) return 'array';
  return 'string';
}

function mergeAll(parts: readonly unknown[]): Schema {
  const merged: Schema = { properties: {}, required: [] };
  for (const part of parts.map(asSchema)) {
    Object.assign(merged, { ...part, properties: merged.properties, required: merged.required });
    Object.assign(merged.properties as Schema, asSchema(part.properties));
    if (Array.isArray(part.required)) (merged.required as unknown[]).push(...part.required);
  }
  return merged;
}

function formattedString(format: string, random: Random): string | undefined {
  const day = 1 + Math.floor(random() * 28);
  const date = `2025-0${1 + Math.floor(random() * 9)}-${String(day).padStart(2, '0')}`;
  const hex = (length: number) =>
    Array.from({ length }, () => Math.floor(random() * 16).toString(16)).join('');
  const known: Record<string, string> = {
    date,
    'date-time': `${date}T12:00:00Z`,
    time: '12:00:00Z',
    email: `${pick(WORDS, random)}@example.com`,
    uri: `https://example.com/${pick(WORDS, random)}`,
    url: `https://example.com/${pick(WORDS, random)}`,
    uuid: `${hex(8)}-${hex(4)}-4${hex(3)}-8${hex(3)}-${hex(12)}`,
    ipv4: `192.0.2.${Math.floor(random() * 255)}`,
    hostname: `${pick(WORDS, random)}.example.com`,
  };
  return known[format];
}

function stringFor(schema: Schema, random: Random): string {
  const minLength = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const maxLength = typeof schema.maxLength === 'number' ? schema.maxLength : Infinity;
  let text =
    (typeof schema.format === 'string' ? formattedString(schema.format, random) : undefined) ??
    words(random, 1 + Math.floor(random() * 3));
  while (text.length < minLength) text += ` ${pick(WORDS, random)}`;
  return text.slice(0, Math.max(minLength, Math.min(maxLength, text.length)));
}

function numberFor(schema: Schema, random: Random, integer: boolean): number {
  const bound = (inclusive: unknown, exclusive: unknown, fallback: number, step: number): number => {
    if (typeof inclusive === 'number') return inclusive;
    if (typeof exclusive === 'number') return exclusive + step;
    return fallback;
  };
  const step = integer ? 1 : 0.01;
  const low = bound(schema.minimum, schema.exclusiveMinimum, 0, step);
  const high = Math.max(low, bound(schema.maximum, schema.exclusiveMaximum, low + 100, -step));
  const value = low + random() * (high - low);
  return integer
    ? Math.min(Math.floor(high), Math.ceil(low) + Math.floor(random() * (high - low + 1)))
    : Math.round(value * 100) / 100;
}

function valueFor(node: unknown, root: unknown, random: Random, depth: number): unknown {
  if (node === true || node === undefined) return words(random, 2);
  const schema = asSchema(node);
  if ('const' in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return pick(schema.enum, random);
  if (typeof schema.$ref === 'string')
    return valueFor(resolveRef(root, schema.$ref), root, random, depth + 1);
  const branches = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(branches) && branches.length > 0) {
    const nonNull = branches.filter((branch) => asSchema(branch).type !== 'null');
    return valueFor(nonNull[0] ?? branches[0], root, random, depth);
  }
  if (Array.isArray(schema.allOf)) return valueFor(mergeAll(schema.allOf), root, random, depth);

  switch (typeOf(schema)) {
    case 'object': {
      const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
      const value: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(asSchema(schema.properties))) {
        if (depth >= MAX_DEPTH && !required.has(key)) continue;
        value[key] = valueFor(child, root, random, depth + 1);
      }
      return value;
    }
    case 'array': {
      const prefix = Array.isArray(schema.prefixItems) ? schema.prefixItems : [];
      const minItems = Math.max(typeof schema.minItems === 'number' ? schema.minItems : 0, prefix.length);
      const maxItems = typeof schema.maxItems === 'number' ? schema.maxItems : minItems + 3;
      const wanted =
        depth >= MAX_DEPTH ? minItems : minItems + Math.floor(random() * 3) + (minItems === 0 ? 1 : 0);
      const count = Math.min(maxItems, Math.max(minItems, wanted));
      return Array.from({ length: count }, (_, index) =>
        valueFor(prefix[index] ?? schema.items, root, random, depth + 1),
      );
    }
    case 'integer':
      return numberFor(schema, random, true);
    case 'number':
      return numberFor(schema, random, false);
    case 'boolean':
      return random() < 0.5;
    case 'null':
      return null;
    default:
      return stringFor(schema, random);
  }
}

export function jsonFromSchema(schema: unknown, random: Random): unknown {
  return valueFor(schema, schema, random, 0);
}
