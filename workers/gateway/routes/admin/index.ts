/**
 * The admin API under `/admin/api`: tenants, keys, usage and audit for the operator and tenant
 * admins; node tokens, nodes and pools for the operator. Its OpenAPI document is at
 * `/admin/api/openapi.json`.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../../config.ts';
import { adminAuth } from '../../middleware/admin-auth.ts';
import { fleetRoutes } from './fleet.ts';
import { keyRoutes } from './keys.ts';
import { openapiRoutes } from './openapi.ts';
import { poolRoutes } from './pools.ts';
import { tenantRoutes } from './tenants.ts';
import { usageRoutes } from './usage.ts';

const api = new Hono<AppEnv>();
api.route('/', openapiRoutes);
api.use('*', adminAuth());
api.route('/', tenantRoutes);
api.route('/', keyRoutes);
api.route('/', usageRoutes);
api.route('/', fleetRoutes);
api.route('/', poolRoutes);

export const adminRoutes = new Hono<AppEnv>();
adminRoutes.route('/admin/api', api);
