/**
 * The dashboard at /dashboard, served by the Worker itself: static files, sign-in, then every page
 * behind a session (and every form behind its CSRF token). Pages read and change things only
 * through the admin API's own handlers (admin-api.ts), as the signed-in caller.
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError } from '../../../src/openai/errors.ts';
import { csrfProtection, dashboardSession, endSession } from '../middleware/dashboard-session.ts';
import { assetRoutes } from './assets/index.ts';
import type { DashboardEnv } from './env.ts';
import { auditRoutes } from './pages/audit.tsx';
import { keyRoutes } from './pages/key.tsx';
import { keysRoutes } from './pages/keys.tsx';
import { nodesRoutes } from './pages/nodes.tsx';
import { overviewRoutes } from './pages/overview.tsx';
import { renderDashboardError } from './pages/shared.tsx';
import { signInRoutes } from './pages/sign-in.tsx';
import { tenantsRoutes } from './pages/tenants.tsx';
import { usageRoutes } from './pages/usage.tsx';
import { dashboardSecurityHeaders } from './security-headers.ts';

/** Forms are small; a bigger body is refused before it is read. */
const MAX_FORM_BYTES = 64 * 1024;

export const dashboardRoutes = new Hono<DashboardEnv>();

// `/dashboard/*` matches `/dashboard` itself too.
dashboardRoutes.use('/dashboard/*', dashboardSecurityHeaders());
dashboardRoutes.use(
  '/dashboard/*',
  bodyLimit({
    maxSize: MAX_FORM_BYTES,
    onError: () => {
      throw new ApiError(413, 'That form is too large.', { code: 'request_too_large' });
    },
  }),
);
dashboardRoutes.get('/dashboard/', (c) => c.redirect('/dashboard', 301));
dashboardRoutes.route('/', assetRoutes);
dashboardRoutes.route('/', signInRoutes);

// Everything below needs a session; every POST below needs the session's CSRF token.
dashboardRoutes.use('/dashboard/*', dashboardSession(), csrfProtection());
dashboardRoutes.post('/dashboard/sign-out', function signOut(c) {
  endSession(c);
  return c.redirect('/dashboard/sign-in?signed-out', 303);
});
dashboardRoutes.route('/', overviewRoutes);
dashboardRoutes.route('/', keysRoutes);
dashboardRoutes.route('/', keyRoutes);
dashboardRoutes.route('/', usageRoutes);
dashboardRoutes.route('/', nodesRoutes);
dashboardRoutes.route('/', tenantsRoutes);
dashboardRoutes.route('/', auditRoutes);
dashboardRoutes.all('/dashboard/*', function unknownPage() {
  throw new ApiError(404, 'There is no such dashboard page.', { code: 'route_not_found' });
});
dashboardRoutes.onError(renderDashboardError);
