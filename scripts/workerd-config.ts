/**
 * Turns wrangler.toml into a plain-workerd config (Cap'n Proto text), so the Worker that
 * `wrangler deploy` ships runs unchanged on one machine with its Durable Objects on local disk.
 * A pure function: the caller lists the bundle and supplies the environment.
 */
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { z } from 'zod';
import { StartError } from './start-error.ts';

const WranglerTomlSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/),
  main: z.string(),
  compatibility_date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  compatibility_flags: z.array(z.string()).default([]),
  durable_objects: z
    .object({
      bindings: z
        .array(z.object({ name: z.string(), class_name: z.string(), script_name: z.string().optional() }))
        .default([]),
    })
    .default({ bindings: [] }),
  migrations: z.array(z.object({ new_sqlite_classes: z.array(z.string()).default([]) })).default([]),
  vars: z.record(z.string(), z.unknown()).default({}),
  secrets: z.object({ required: z.array(z.string()).default([]) }).default({ required: [] }),
});
export type WranglerToml = z.infer<typeof WranglerTomlSchema>;

export interface WorkerdConfigInput {
  wranglerToml: string;
  /** Where the config file will be written: `embed` paths are relative to it. */
  configDir: string;
  /** The bundle's module files, main module first, as paths relative to `bundleDir`. */
  bundleDir: string;
  modules: string[];
  /** Absolute directory for the SQLite files of the Durable Objects. */
  doStorageDir: string;
  /** Listen address of the HTTP socket, e.g. `127.0.0.1:8080` (`:0` with `--control-fd`). */
  address: string;
  /** Overrides for `[vars]` entries of the same name (usually `process.env`). */
  env: Record<string, string | undefined>;
  /** Secrets besides wrangler.toml's `secrets.required`; all are read from the environment. */
  secretNames: string[];
  /** The newest date this workerd supports; a later date in wrangler.toml is lowered to it. */
  maxCompatibilityDate?: string;
}

/** Bindings and features the generator does not reproduce: refused rather than silently dropped. */
const UNSUPPORTED_KEYS = [
  'kv_namespaces',
  'r2_buckets',
  'd1_databases',
  'services',
  'queues',
  'assets',
  'ai',
  'vectorize',
  'hyperdrive',
  'workflows',
  'triggers',
];

export function parseWranglerToml(text: string): WranglerToml {
  let raw: unknown;
  try {
    raw = parseToml(text);
  } catch (cause) {
    throw new StartError('wrangler.toml is not valid TOML', { cause });
  }
  const unsupported = UNSUPPORTED_KEYS.filter((key) => typeof raw === 'object' && raw !== null && key in raw);
  if (unsupported.length > 0) {
    throw new StartError(
      `wrangler.toml uses ${unsupported.join(', ')}, which scripts/workerd-config.ts cannot run yet`,
    );
  }
  const parsed = WranglerTomlSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StartError(`wrangler.toml: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  return parsed.data;
}

export function generateWorkerdConfig(input: WorkerdConfigInput): string {
  const toml = parseWranglerToml(input.wranglerToml);
  const secretNames = [...new Set([...toml.secrets.required, ...input.secretNames])];
  const sqliteClasses = new Set(toml.migrations.flatMap((m) => m.new_sqlite_classes));
  const classNames = [...new Set(toml.durable_objects.bindings.map((b) => b.class_name))];
  const foreign = toml.durable_objects.bindings.find((b) => b.script_name !== undefined);
  if (foreign) {
    throw new StartError(
      `Durable Object binding ${foreign.name} names another Worker; only this Worker's classes run locally`,
    );
  }
  if (input.modules.length === 0) throw new StartError('the bundle has no modules');

  const embedPath = (file: string) =>
    path.relative(input.configDir, path.join(input.bundleDir, file)).split(path.sep).join('/');
  const modules = input.modules.map(
    (file) => `(name = ${str(file)}, ${moduleKind(file)} = embed ${str(embedPath(file))})`,
  );

  const bindings = [
    ...Object.entries(toml.vars).map(([name, value]) => varBinding(name, value, input.env[name])),
    ...secretNames.map((name) => `(name = ${str(name)}, fromEnvironment = ${str(name)})`),
    ...toml.durable_objects.bindings.map(
      (b) => `(name = ${str(b.name)}, durableObjectNamespace = ${str(b.class_name)})`,
    ),
  ];
  // `<worker name>-<class>` is the uniqueKey `workerd deploy` gives a wrangler project's classes,
  // so the same storage would be found if this machine later moved to that mode.
  const namespaces = classNames.map(
    (cls) =>
      `(className = ${str(cls)}, uniqueKey = ${str(`${toml.name}-${cls}`)}, enableSql = ${sqliteClasses.has(cls)})`,
  );
  const date =
    input.maxCompatibilityDate && toml.compatibility_date > input.maxCompatibilityDate
      ? input.maxCompatibilityDate
      : toml.compatibility_date;

  const hasObjects = classNames.length > 0;
  const worker = [
    `modules = ${list(modules, 4)}`,
    `compatibilityDate = ${str(date)}`,
    `compatibilityFlags = ${list(toml.compatibility_flags.map(str), 4)}`,
    `bindings = ${list(bindings, 4)}`,
    ...(hasObjects
      ? [
          `durableObjectNamespaces = ${list(namespaces, 4)}`,
          `durableObjectStorage = (localDisk = "do-storage")`,
        ]
      : []),
    // The default outbound refuses private and loopback addresses; GPU nodes often live there.
    `globalOutbound = "outbound"`,
  ];
  const services = [
    `(name = ${str(toml.name)}, worker = (\n      ${worker.join(',\n      ')}\n    ))`,
    // workerd refuses to start when this directory is missing, so it is named only when used.
    ...(hasObjects
      ? [`(name = "do-storage", disk = (path = ${str(input.doStorageDir)}, writable = true))`]
      : []),
    `(name = "outbound", network = (allow = ["public", "private", "local"], tlsOptions = (trustBrowserCas = true)))`,
  ];
  return `# Generated by scripts/workerd-config.ts from wrangler.toml. Do not edit: \`npm start\` rewrites it.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = ${list(services, 2)},
  sockets = [(name = "http", address = ${str(input.address)}, http = (), service = ${str(toml.name)})],
);
`;
}

/** A `[vars]` entry: strings become text; other TOML values become JSON, as wrangler does. */
function varBinding(name: string, value: unknown, override: string | undefined): string {
  if (typeof value === 'string') return `(name = ${str(name)}, text = ${str(override ?? value)})`;
  if (override !== undefined) {
    try {
      JSON.parse(override);
    } catch (cause) {
      throw new StartError(
        `the environment variable ${name} overrides a JSON [vars] entry, so it must be JSON`,
        {
          cause,
        },
      );
    }
  }
  return `(name = ${str(name)}, json = ${str(override ?? JSON.stringify(value))})`;
}

function moduleKind(file: string): string {
  const ext = path.extname(file);
  if (ext === '.js' || ext === '.mjs') return 'esModule';
  if (ext === '.cjs') return 'commonJsModule';
  if (ext === '.wasm') return 'wasm';
  if (ext === '.bin') return 'data';
  if (ext === '.txt' || ext === '.html' || ext === '.sql') return 'text';
  throw new StartError(`no workerd module type for ${file}`);
}

function list(items: string[], depth: number): string {
  if (items.length === 0) return '[]';
  const indent = '  '.repeat(depth);
  return `[\n${items.map((item) => indent + item).join(',\n')}\n${'  '.repeat(depth - 1)}]`;
}

/** A Cap'n Proto text literal: quotes, backslashes and control characters escaped. */
function str(value: string): string {
  const escaped = value.replace(/[\\"\u0000-\u001f\u007f]/g, (ch) =>
    ch === '\\' || ch === '"' ? `\\${ch}` : `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return `"${escaped}"`;
}
