import { describe, expect, it } from 'vitest';
import { scopeViolation } from '../../src/nodes/node-scope.ts';
import { nodeUrlProblem } from '../../src/nodes/node-url.ts';

const deployed = { allowPrivate: false };

describe('node URLs', () => {
  it('accepts a public https URL when deployed', () => {
    expect(nodeUrlProblem('https://gpu-1.example.com:8443/base', deployed)).toBeNull();
    expect(nodeUrlProblem('https://203.0.113.7', deployed)).toBeNull();
  });

  it.each([
    'http://gpu-1.example.com',
    'https://127.0.0.1:8100',
    'https://localhost',
    'https://api.localhost',
    'https://10.1.2.3',
    'https://172.16.0.1',
    'https://172.31.255.255',
    'https://192.168.1.10',
    'https://169.254.169.254/latest/meta-data',
    'https://100.64.0.1',
    'https://0.0.0.0',
    'https://[::1]',
    'https://[fd00::1]',
    'https://[fe80::1]',
    'https://[::ffff:127.0.0.1]',
    'https://2130706433',
    'https://0x7f.0.0.1',
    'https://metadata.google.internal',
    'https://printer.local',
  ])('refuses %s when deployed', (url) => {
    expect(nodeUrlProblem(url, deployed)).not.toBeNull();
  });

  it('allows loopback and private addresses when the operator says so, never credentials in the URL', () => {
    expect(nodeUrlProblem('http://127.0.0.1:8100', { allowPrivate: true })).toBeNull();
    expect(nodeUrlProblem('http://192.168.1.10', { allowPrivate: true })).toBeNull();
    expect(nodeUrlProblem('http://u:p@127.0.0.1', { allowPrivate: true })).toMatch(/credentials/);
  });
});

describe('node scopes', () => {
  const scope = { owner: 'alice', models: ['llama-3*', 'qwen-7b'], maxConcurrency: 64 };

  it('allows engines within the models and the capacity, and names the first that is not', () => {
    expect(scopeViolation(scope, [{ id: 'e1', model: 'llama-3-8b', maxConcurrency: 64 }])).toBeNull();
    expect(scopeViolation(scope, [{ id: 'e1', model: 'qwen-7b-evil', maxConcurrency: 1 }])).toMatch(
      /qwen-7b-evil/,
    );
    expect(scopeViolation(scope, [{ id: 'e2', model: 'qwen-7b', maxConcurrency: 65 }])).toMatch(/65/);
    expect(
      scopeViolation({ owner: 'operator', models: [] }, [{ id: 'e', model: 'x', maxConcurrency: 1 }]),
    ).not.toBeNull();
  });
});
