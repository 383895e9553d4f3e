/**
 * The bare proxy: the practical ceiling for a gateway on Workers. A Hono route on the same
 * plain workerd as the gateway that forwards the body to the engine and streams the answer
 * back, with nothing else: no auth, no limits, no Durable Object, no body parsing. The same
 * Worker as bench/runtime-throughput.ts, plus a second route for the paced engine.
 */
import { Hono } from 'hono';

const app = new Hono<{ Bindings: { INSTANT_URL: string; PACED_URL: string } }>();

app.post('/v1/*', (c) => forward(c.env.INSTANT_URL + c.req.path, c.req.raw));
app.post('/paced/v1/*', (c) => forward(c.env.PACED_URL + c.req.path.slice('/paced'.length), c.req.raw));

async function forward(url: string, request: Request): Promise<Response> {
  const upstream = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: request.body,
  });
  return new Response(upstream.body, { status: upstream.status, headers: upstream.headers });
}

export default app;
