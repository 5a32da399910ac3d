import { compact, formatNumber } from '../format';

interface KnownProgress {
  phase?: string;
  step?: string;
  stepsDone?: number;
  stepsTotal?: number;
  recordsApplied?: number;
  recordsTotal?: number;
  recordsUndone?: number;
  mode?: string;
  tablesDone?: number;
  tablesTotal?: number;
  records?: number;
  status?: string;
}

/**
 * A job's progress as its workflow's query answers it: change sets (records applied and undone,
 * phase), provisioning (step n of m), sync runs (tables, records); anything else as compact text.
 */
export function ProgressView({ progress }: { progress: unknown }) {
  if (progress === null || progress === undefined) return null;
  if (typeof progress !== 'object') return <span>{compact(progress)}</span>;
  const p = progress as KnownProgress;
  if (typeof p.recordsTotal === 'number' && typeof p.recordsApplied === 'number') {
    const undoing = p.phase === 'compensating' || (p.recordsUndone ?? 0) > 0;
    const label = undoing
      ? `Undoing: ${formatNumber(p.recordsUndone ?? 0)} of ${formatNumber(p.recordsApplied)} records undone`
      : `${formatNumber(p.recordsApplied)} of ${formatNumber(p.recordsTotal)} records applied`;
    return (
      <span class="progress">
        <progress
          max={undoing ? Math.max(1, p.recordsApplied) : Math.max(1, p.recordsTotal)}
          value={undoing ? (p.recordsUndone ?? 0) : p.recordsApplied}
          aria-label={label}
        />
        <span>
          {label}
          {p.phase && p.phase !== 'applying' && p.phase !== 'compensating' ? ` (${p.phase})` : ''}
        </span>
      </span>
    );
  }
  if (typeof p.stepsTotal === 'number' && typeof p.stepsDone === 'number') {
    const label = `Step ${Math.min(p.stepsDone + 1, p.stepsTotal)} of ${p.stepsTotal}${p.step ? `: ${p.step}` : ''}`;
    return (
      <span class="progress">
        <progress max={p.stepsTotal} value={p.stepsDone} aria-label={label} />
        <span>{label}</span>
      </span>
    );
  }
  const parts = Object.entries(progress as Record<string, unknown>)
    .filter(([, v]) => v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k}: ${typeof v === 'number' ? formatNumber(v) : String(v)}`);
  return <span class="progress-text">{parts.length > 0 ? parts.join(', ') : compact(progress)}</span>;
}
