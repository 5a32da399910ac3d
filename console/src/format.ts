/** Small formatting helpers shared by the pages. */

const meta = (name: string) => document.querySelector<HTMLMetaElement>(`meta[name="${name}"]`)?.content;

/**
 * The job's page in the Temporal Web UI: on the host this page came from, at the port the server
 * names (TEMPORAL_UI_PORT; the `npm start` dev server's UI), in the API's namespace.
 */
export function temporalUrl(workflowId: string): string {
  const port = meta('temporal-ui-port') || '8233';
  const namespace = meta('temporal-namespace') || 'default';
  return `${location.protocol}//${location.hostname}:${port}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const time = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

export function formatDate(value: string | number | Date | null | undefined): string {
  if (value === null || value === undefined) return '—';
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  const today = new Date();
  return date.toDateString() === today.toDateString() ? time.format(date) : dateTime.format(date);
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

const number = new Intl.NumberFormat();
export const formatNumber = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : number.format(n);

export function formatUsd(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return `$${n < 1 ? n.toFixed(4) : n.toFixed(2)}`;
}

/** A value as compact text: strings as they are, the rest as JSON, cut at `max` characters. */
export function compact(value: unknown, max = 80): string {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Pretty JSON for a disclosure, cut at `max` characters so a huge result does not stall the page. */
export function pretty(value: unknown, max = 6_000): string {
  const text = JSON.stringify(value, null, 2) ?? '';
  return text.length > max ? `${text.slice(0, max)}\n… (${text.length - max} more characters)` : text;
}

export const shortId = (id: string) => (id.length > 14 ? `…${id.slice(-8)}` : id);

export const JOB_KIND_LABELS: Record<string, string> = {
  'workspace.provision': 'Provisioning',
  'workspace.deprovision': 'Deprovisioning',
  'changeset.apply': 'Change set',
  conversation: 'Conversation',
  'sync.run': 'Sync run',
};

export const jobKindLabel = (kind: string) => JOB_KIND_LABELS[kind] ?? kind;
