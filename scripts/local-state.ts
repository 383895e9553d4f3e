/**
 * What `npm start` remembers between runs, in .switchyard/state.json: the admin token it made
 * (when the operator supplied none) and the seeded demo key and node token, which the gateway
 * shows only once.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseEnv } from 'node:util';
import { z } from 'zod';
import { StartError } from './start-error.ts';

const LocalStateSchema = z.object({
  adminToken: z.string().min(1).optional(),
  demoKey: z.object({ id: z.string(), key: z.string() }).optional(),
  nodeToken: z.object({ id: z.string(), token: z.string() }).optional(),
});
export type LocalState = z.infer<typeof LocalStateSchema>;

export function readState(file: string): LocalState {
  if (!fs.existsSync(file)) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new StartError(`${file} is not valid JSON; run \`npm start -- --fresh\` to start over`, { cause });
  }
  const parsed = LocalStateSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StartError(
      `${file}: ${z.prettifyError(parsed.error)}; run \`npm start -- --fresh\` to start over`,
    );
  }
  return parsed.data;
}

/** Owner-only: the file holds credentials. */
export function writeState(file: string, state: LocalState): void {
  fs.writeFileSync(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}

/** `.dev.vars` in the dotenv format wrangler reads; empty when absent. */
export function readDevVars(file: string): Record<string, string> {
  if (!fs.existsSync(file)) return {};
  const parsed = parseEnv(fs.readFileSync(file, 'utf8'));
  return Object.fromEntries(
    Object.entries(parsed).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

export interface AdminToken {
  token: string;
  /** Where it came from, for the summary the operator reads. */
  source: string;
  state: LocalState;
}

/** The environment wins over .dev.vars, which wins over a token made on an earlier start. */
export function resolveAdminToken(
  env: NodeJS.ProcessEnv,
  devVars: Record<string, string>,
  state: LocalState,
  stateFile: string,
): AdminToken {
  if (env.ADMIN_TOKEN)
    return { token: env.ADMIN_TOKEN, source: 'the ADMIN_TOKEN environment variable', state };
  if (devVars.ADMIN_TOKEN) return { token: devVars.ADMIN_TOKEN, source: '.dev.vars', state };
  if (state.adminToken) return { token: state.adminToken, source: `${stateFile} (adminToken)`, state };
  const token = `adm_${crypto.randomBytes(24).toString('base64url')}`;
  return {
    token,
    source: `${stateFile} (adminToken, generated on first start)`,
    state: { ...state, adminToken: token },
  };
}
