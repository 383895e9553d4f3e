/**
 * Two edges sharing one set of Durable Objects, the way every Cloudflare location shares one
 * `ModelPool` per model: a second Worker service, from the same bundle, whose object bindings
 * point at the first service's namespaces, behind its own socket. Built from the config that
 * `npm start` generates, so both edges run exactly what it runs.
 */

/** Adds `edgeB` to a config from scripts/workerd-config.ts, listening on `edgeBAddress`. */
export function withSecondEdge(config: string, workerName: string, edgeBAddress: string): string {
  const head = `(name = "${workerName}", worker = (`;
  const start = config.indexOf(head);
  const end = config.indexOf('\n    ))', start);
  if (start < 0 || end < 0) throw new Error('the generated workerd config has an unexpected shape');
  const edgeA = config.slice(start, end + '\n    ))'.length);
  const edgeB = rewrite(edgeA, [
    [head, `(name = "${workerName}-edge-b", worker = (`],
    // Bind the first service's namespaces instead of declaring new ones.
    [
      /durableObjectNamespace = "([A-Za-z]+)"/g,
      `durableObjectNamespace = (className = "$1", serviceName = "${workerName}")`,
    ],
    [/,\n {6}durableObjectNamespaces = \[[\s\S]*?\n {6}\]/, ''],
    [/,\n {6}durableObjectStorage = \([^)]*\)/, ''],
  ]);
  const socket = `(name = "http-edge-b", address = "${edgeBAddress}", http = (), service = "${workerName}-edge-b")`;
  return rewrite(config, [
    [edgeA, `${edgeA},\n    ${edgeB}`],
    [/sockets = \[(.*)\],/, `sockets = [$1, ${socket}],`],
  ]);
}

function rewrite(text: string, steps: Array<[string | RegExp, string]>): string {
  return steps.reduce((current, [pattern, replacement]) => {
    const next = current.replace(pattern, replacement);
    if (next === current) throw new Error(`could not rewrite the workerd config at ${String(pattern)}`);
    return next;
  }, text);
}
