/** The dashboard's Hono environment: the gateway's, plus the signed-in session and the page's CSP nonce. */
import type { AppEnv } from '../config.ts';
import type { AdminCaller } from '../middleware/admin-auth.ts';

export interface DashboardSession {
  /** Who the admin API sees: exactly what the credential typed at sign-in would open. */
  caller: AdminCaller;
  sid: string;
  /** The token every form of this session carries. */
  csrf: string;
  expiresAt: number;
  /** Shown in the header: "Operator" or the tenant's name. */
  who: string;
}

export type DashboardEnv = {
  Bindings: Env;
  Variables: AppEnv['Variables'] & { session: DashboardSession; cspNonce: string };
};
