// The package ships no types. Its CommonJS build exports the parse function as module.exports,
// which Node's ESM loader (and esbuild) present as the default export.
declare module 'parse-prometheus-text-format' {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
