/** Names for the ids in usage rows and audit entries, read through the admin API (so scoped the same way). */
import { AdminApiError, type AdminApi } from './admin-api.ts';
import type { KeyView, List, Tenant } from './types.ts';

/** Each key the caller may see, by id; ids it may not see (or deleted keys) are left out. */
export async function keysById(api: AdminApi, keyIds: Iterable<string>): Promise<Map<string, KeyView>> {
  const ids = [...new Set(keyIds)];
  const views = await Promise.all(
    ids.map((id) =>
      api.get<KeyView>(`/keys/${encodeURIComponent(id)}`).catch((error: unknown) => {
        if (error instanceof AdminApiError && error.status === 404) return null;
        throw error;
      }),
    ),
  );
  return new Map(views.filter((view) => view !== null).map((view) => [view.id, view]));
}

export async function tenantsById(api: AdminApi): Promise<Map<string, Tenant>> {
  const { data } = await api.get<List<Tenant>>('/tenants');
  return new Map(data.map((tenant) => [tenant.id, tenant]));
}
