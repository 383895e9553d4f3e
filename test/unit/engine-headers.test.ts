import { describe, expect, it } from 'vitest';
import { clientFacingHeaders } from '../../src/http/engine-headers.ts';

describe('engine response headers', () => {
  it('keeps what clients use and drops cookies, policies, hop-by-hop and unknown headers', () => {
    const kept = clientFacingHeaders(
      new Headers({
        'Content-Type': 'text/event-stream',
        'content-encoding': 'gzip',
        'x-request-id': 'r1',
        'retry-after': '3',
        'openai-version': '2020-10-01',
        'x-ratelimit-remaining-tokens': '10',
        'set-cookie': 'a=b',
        connection: 'keep-alive',
        'keep-alive': 'timeout=5',
        'strict-transport-security': 'max-age=0',
        'content-security-policy': "default-src 'none'",
        server: 'uvicorn',
        'x-sim-engine-id': 'e1',
      }),
    );
    expect([...kept.keys()].sort()).toEqual(
      [
        'content-encoding',
        'content-type',
        'openai-version',
        'retry-after',
        'x-ratelimit-remaining-tokens',
        'x-request-id',
      ].sort(),
    );
  });
});
