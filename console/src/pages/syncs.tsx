import { useState } from 'preact/hooks';
import { api, isMissingRoute } from '../api';
import { ErrorText, Field, StatusBadge, usePolling } from '../components/common';
import { formatDate, formatDuration, formatNumber, shortId, temporalUrl } from '../format';
import type { Sync, Workspace } from '../types';

const scheduleText = (s: Sync['schedule']) =>
  'every' in s ? `every ${s.every}` : `cron ${s.cron} (${s.timezone})`;

/**
 * A workspace's scheduled syncs: schedule, next run, last runs; pause, resume, trigger. A server
 * without the syncs routes answers 404 `route_not_found`: the tab then says syncs are not available.
 */
export function SyncsTab({ workspace }: { workspace: Workspace }) {
  const { value, error, reload } = usePolling(
    (signal) =>
      api<{ syncs: Sync[] }>(
        'GET',
        `/workspaces/${encodeURIComponent(workspace.id)}/syncs`,
        undefined,
        signal,
      ).catch((err: unknown) => {
        // No such route on this server: say so, and stop asking.
        if (isMissingRoute(err)) return { syncs: null };
        throw err;
      }),
    [workspace.id],
    { intervalMs: 3_000, active: (v) => v?.syncs !== null },
  );
  if (value?.syncs === null)
    return (
      <>
        <h2>Syncs</h2>
        <p role="status">Syncs are not available on this server yet.</p>
      </>
    );
  return (
    <>
      <h2>Syncs</h2>
      <ErrorText error={error} />
      {value?.syncs?.length === 0 && <p>No sync yet: copy the base into Postgres on a schedule.</p>}
      {value?.syncs?.map((sync) => (
        <SyncCard key={sync.id} sync={sync} onChanged={reload} />
      ))}
      {workspace.status === 'active' && value && <NewSync workspaceId={workspace.id} onCreated={reload} />}
    </>
  );
}

function SyncCard({ sync, onChanged }: { sync: Sync; onChanged: () => void }) {
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [message, setMessage] = useState<string | null>(null);
  const headingId = `sync-${sync.id}`;
  const tables = sync.tables?.length ? sync.tables.join(', ') : 'all tables';

  async function act(action: 'pause' | 'resume' | 'trigger') {
    setBusy(action);
    setError(null);
    setMessage(null);
    try {
      const res = await api<{ job?: { id: string } }>(
        'POST',
        `/syncs/${encodeURIComponent(sync.id)}/${action}`,
      );
      setMessage(
        action === 'trigger'
          ? `Run started${res?.job ? ` (job ${shortId(res.job.id)})` : ''}.`
          : action === 'pause'
            ? 'Paused.'
            : 'Resumed.',
      );
      onChanged();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }

  return (
    <section class="card sync" aria-labelledby={headingId}>
      <h3 id={headingId}>
        Sync of {tables} <StatusBadge status={sync.status} />
      </h3>
      <dl class="facts">
        <dt>Schedule</dt>
        <dd>{scheduleText(sync.schedule)}</dd>
        <dt>Next run</dt>
        <dd>{sync.status === 'paused' ? 'paused' : formatDate(sync.nextRunAt)}</dd>
        <dt>Running now</dt>
        <dd>
          {sync.running ? (
            <a href={temporalUrl(sync.running.job.id)} target="_blank" rel="noopener noreferrer">
              {shortId(sync.running.job.id)}
            </a>
          ) : (
            'no'
          )}
        </dd>
        {sync.mirrorAsOf !== undefined && (
          <>
            <dt>Mirror as of</dt>
            <dd>{formatDate(sync.mirrorAsOf)}</dd>
          </>
        )}
        {sync.postgres && (
          <>
            <dt>Postgres schema</dt>
            <dd>
              <code>{sync.postgres.schema}</code>
            </dd>
          </>
        )}
        <dt>Temporal schedule</dt>
        <dd>
          <code>{sync.scheduleId}</code>
        </dd>
      </dl>
      <div class="actions">
        {sync.status === 'paused' ? (
          <button type="button" disabled={busy !== null} onClick={() => act('resume')}>
            Resume
          </button>
        ) : (
          <button
            type="button"
            disabled={busy !== null || sync.status !== 'active'}
            onClick={() => act('pause')}
          >
            Pause
          </button>
        )}
        <button type="button" class="primary" disabled={busy !== null} onClick={() => act('trigger')}>
          Run now
        </button>
      </div>
      <p role="status" class="meta">
        {busy ? 'Working…' : message}
      </p>
      <ErrorText error={error} />
      <table class="runs responsive">
        <caption>Last runs</caption>
        <thead>
          <tr>
            <th scope="col">Started</th>
            <th scope="col">Status</th>
            <th scope="col">Mode</th>
            <th scope="col">Created, updated, deleted</th>
            <th scope="col">Lag</th>
            <th scope="col">Took</th>
          </tr>
        </thead>
        <tbody>
          {sync.lastRuns.length === 0 && (
            <tr>
              <td colSpan={6}>No run yet.</td>
            </tr>
          )}
          {sync.lastRuns.map((run) => (
            <tr key={run.job.id}>
              <th scope="row" data-label="Started">
                {formatDate(run.startedAt)}
              </th>
              <td data-label="Status">
                <StatusBadge status={run.status} />
                {run.error && <span class="error-text"> {run.error}</span>}
              </td>
              <td data-label="Mode">
                {run.mode}
                {run.reason ? ` (${run.reason})` : ''}
              </td>
              <td data-label="Created, updated, deleted">
                {formatNumber(run.counts.created)}, {formatNumber(run.counts.updated)},{' '}
                {formatNumber(run.counts.deleted)}
              </td>
              <td data-label="Lag">{formatDuration(run.lagMs)}</td>
              <td data-label="Took">
                {run.finishedAt
                  ? formatDuration(new Date(run.finishedAt).getTime() - new Date(run.startedAt).getTime())
                  : '—'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function NewSync({ workspaceId, onCreated }: { workspaceId: string; onCreated: () => void }) {
  const [tables, setTables] = useState('');
  const [every, setEvery] = useState('15m');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const names = tables
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    try {
      await api('POST', `/workspaces/${encodeURIComponent(workspaceId)}/syncs`, {
        every: every.trim(),
        ...(names.length > 0 ? { tables: names } : {}),
      });
      setTables('');
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form class="card narrow" onSubmit={submit} aria-labelledby="new-sync-title">
      <h3 id="new-sync-title">New sync</h3>
      <Field id="sync-tables" label="Tables" hint="Names or ids, comma-separated; empty for every table.">
        {(describedBy) => (
          <input
            id="sync-tables"
            aria-describedby={describedBy}
            value={tables}
            onInput={(e) => setTables(e.currentTarget.value)}
          />
        )}
      </Field>
      <Field id="sync-every" label="Every" hint="A duration such as 90s, 15m, 2h or 1d.">
        {(describedBy) => (
          <input
            id="sync-every"
            required
            aria-describedby={describedBy}
            value={every}
            onInput={(e) => setEvery(e.currentTarget.value)}
          />
        )}
      </Field>
      <ErrorText error={error} />
      <button type="submit" disabled={busy}>
        Create sync
      </button>
    </form>
  );
}
