import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

// Two kinds of tests: the gateway inside workerd (Miniflare), and everything that runs on
// Node — the agent, the simulator and the end-to-end system — with real processes and sockets.
export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            // Short clocks so heartbeat expiry and timeouts happen within a test.
            miniflare: {
              bindings: {
                ADMIN_TOKEN: 'test-admin-token',
                HEARTBEAT_INTERVAL_MS: '1000',
                NODE_UNHEALTHY_AFTER_MS: '1000',
                NODE_EVICT_AFTER_MS: '2000',
                UPSTREAM_CONNECT_TIMEOUT_MS: '1000',
                UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '1500',
                UPSTREAM_IDLE_TIMEOUT_MS: '500',
                MAX_JSON_BODY_BYTES: '65536',
                MAX_UPLOAD_BYTES: '1048576',
              },
            },
          }),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          globalSetup: ['test/worker/fake-node-setup.ts'],
        },
      },
      {
        test: {
          name: 'node',
          include: ['test/agent/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
