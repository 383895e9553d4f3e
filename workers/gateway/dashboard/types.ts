/** What the admin API answers, as the dashboard reads it (the same types the routes return). */
import type { KeyView } from '../../../src/keys/key-record.ts';
import type { UsageRow } from '../../../src/usage/rollup.ts';
import type { AuditEntry, NodeTokenSummary, Tenant } from '../../objects/directory.ts';
import type { NodeView } from '../../objects/node-registry.ts';

export type { AuditEntry, KeyView, NodeTokenSummary, NodeView, Tenant, UsageRow };

export interface List<T> {
  object: 'list';
  data: T[];
}

export type TenantUsageRow = UsageRow & { tenantId: string };

export interface UsageList extends List<TenantUsageRow> {
  granularity: 'minute' | 'hour' | 'day';
  from: number;
  to: number;
}

export type CreatedKey = KeyView & { key: string };
export type CreatedNodeToken = NodeTokenSummary & { token: string };
