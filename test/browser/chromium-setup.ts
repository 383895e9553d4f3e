/**
 * Vitest global setup for the browser tests: finds Debian's Chromium (or CHROMIUM_PATH) and hands
 * its path to the tests. Without one the tests are skipped, and this says so loudly: a skipped
 * browser test is easy to mistake for a passing one.
 */
import fs from 'node:fs';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    chromium: string | null;
  }
}

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

export default function setup(project: TestProject) {
  const chromium = process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;
  const found = fs.existsSync(chromium);
  const warn = () =>
    process.stderr.write(
      [
        '',
        '!'.repeat(80),
        `!! BROWSER TESTS SKIPPED: no Chromium at ${chromium}.`,
        '!! The dashboard tests (test/browser/) did NOT run. To run them:',
        '!!   sudo apt-get install -y chromium        (Debian/Ubuntu; .ci/run does this in CI)',
        '!!   or CHROMIUM_PATH=/path/to/chrome npm run test:browser',
        '!'.repeat(80),
        '',
        '',
      ].join('\n'),
    );
  project.provide('chromium', found ? chromium : null);
  if (found) return undefined;
  // Once as the run starts, and again at its end, where it is not lost above the other projects' output.
  warn();
  return warn;
}
