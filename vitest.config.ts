import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

// Five tiers, each runnable alone (`npm run test:unit|worker|node|e2e|browser`):
//   unit    the runtime-free core in src/, plain Node, seconds;
//   worker  the gateway and its Durable Objects inside workerd (Miniflare);
//   node    the agent and the simulator: real processes, real sockets;
//   e2e     the whole system as `npm start` runs it, driven by the official clients;
//   browser the dashboard of that system in Debian's Chromium (playwright-core); skipped, loudly, without it.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: './wrangler.toml' },
            // Short clocks so heartbeat expiry and timeouts happen within a test.
            miniflare: {
              bindings: {
                ADMIN_TOKEN: 'test-admin-token',
                HEARTBEAT_INTERVAL_MS: '1000',
                // Long enough that a node heartbeating every 250 ms stays healthy on a loaded machine;
                // tests of expiry backdate the heartbeat instead of waiting (helpers.ts silenceNode).
                NODE_UNHEALTHY_AFTER_MS: '10000',
                NODE_EVICT_AFTER_MS: '30000',
                UPSTREAM_CONNECT_TIMEOUT_MS: '1000',
                UPSTREAM_FIRST_BYTE_TIMEOUT_MS: '1500',
                UPSTREAM_IDLE_TIMEOUT_MS: '500',
                MAX_JSON_BODY_BYTES: '65536',
                MAX_UPLOAD_BYTES: '1048576',
                USAGE_FLUSH_MS: '100',
                ALLOW_PRIVATE_NODE_URLS: 'true',
              },
            },
          }),
        ],
        test: {
          name: 'worker',
          include: ['test/worker/**/*.test.ts'],
          globalSetup: ['test/worker/fake-node-setup.ts'],
          // The first request of a file starts workerd's isolate (seconds on a loaded 2-core machine).
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/browser/chromium-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
