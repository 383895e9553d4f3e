/** How numbers, times and limits read on the dashboard. Pure. */
import type { Limits } from '../../../src/limits/limits.ts';

const LIMIT_LABELS: Record<keyof Limits, string> = {
  rpm: 'RPM',
  tpm: 'TPM',
  concurrency: 'concurrent',
  tokensPerDay: 'tokens/day',
  tokensPerMonth: 'tokens/month',
};

export function formatCount(value: number): string {
  return new Intl.NumberFormat('en-US').format(Math.round(value));
}

export function formatCompact(value: number): string {
  return new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 }).format(value);
}

/** `2026-11-22 14:05 UTC`; a dash for never. */
export function formatTime(at: number | null, withSeconds = false): string {
  if (at === null) return '—';
  const iso = new Date(at).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, withSeconds ? 19 : 16)} UTC`;
}

/** `4 s ago`, `12 min ago`, `3 h ago`, `2 d ago`. */
export function formatAgo(at: number, now: number): string {
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return hours < 48 ? `${hours} h ago` : `${Math.round(hours / 24)} d ago`;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** `RPM 600 · TPM 100k`, or `none`; each limit stays on one line. */
export function formatLimits(limits: Limits): string {
  const parts = (Object.keys(LIMIT_LABELS) as Array<keyof Limits>)
    .filter((name) => limits[name] !== undefined)
    .map((name) => `${LIMIT_LABELS[name]}\u00a0${formatCompact(limits[name]!)}`);
  return parts.length > 0 ? parts.join(' · ') : 'none';
}

export function formatMiB(mib: number | null): string {
  if (mib === null) return '—';
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}

/** A value for `<input type="datetime-local">`, in UTC (the dashboard shows every time in UTC). */
export function toDateTimeLocal(at: number | null): string {
  return at === null ? '' : new Date(at).toISOString().slice(0, 16);
}
