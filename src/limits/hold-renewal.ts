/**
 * How long a held lease (a slot on an engine) or reservation (a key's concurrency slot and
 * tokens) lives without news from the call that holds it. The gateway renews both while the
 * call lives; when renewals stop — the Worker invocation crashed or was cut off — the pool
 * and the key's object take them back within seconds instead of holding engine slots and
 * rate limits hostage. Most calls end before their first renewal, so renewing costs nothing
 * on the common path.
 */
export const RENEW_EVERY_MS = 5_000;
/** Three missed renewals: one late renewal (a busy isolate, a retried RPC) never loses a hold. */
export const EXPIRE_AFTER_MS = 3 * RENEW_EVERY_MS;
