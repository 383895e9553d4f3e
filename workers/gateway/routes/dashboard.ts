/**
 * The dashboard: one page served by the Worker. It holds no secret of its own; the operator
 * pastes ADMIN_TOKEN, which stays in the browser's sessionStorage and is sent to /admin/api.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../config.ts';
import { DASHBOARD_HTML } from './dashboard-page.ts';

export const dashboardRoutes = new Hono<AppEnv>();

dashboardRoutes.get('/dashboard', function showDashboard(c) {
  c.header(
    'content-security-policy',
    "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
  );
  return c.html(DASHBOARD_HTML);
});
