/**
 * Preloaded into Portkey's gateway (`node --import`) so that it can stream at all. With the
 * @hono/node-server it installs (1.19), every streamed chat fails with `TypeError: immutable`:
 * Portkey appends its x-portkey-* headers to the headers of the engine's fetch Response, which
 * the fetch spec makes immutable (Portkey-AI/gateway issues #1389 and #1550; PR #1551 fixes it
 * the same way). An event stream's Response is copied into one with mutable headers; every
 * other answer is left alone, so the non-streaming figures are Portkey's own.
 */
const originalFetch = globalThis.fetch;

globalThis.fetch = async function fetchWithMutableStreamHeaders(input, init) {
  const response = await originalFetch(input, init);
  if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) return response;
  return new Response(response.body, {
    status: response.status,
    statusText: response.statusText,
    headers: new Headers(response.headers),
  });
};
