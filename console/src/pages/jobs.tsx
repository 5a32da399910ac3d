import { signal } from '@preact/signals';
import { useEffect, useState } from 'preact/hooks';
import { api, isMissingRoute } from '../api';
import { ErrorText, StatusBadge, usePolling } from '../components/common';
import { ProgressView } from '../components/progress';
import { formatDate, formatNumber, jobKindLabel, pretty, shortId, temporalUrl } from '../format';
import { openEventStream } from '../sse';
import type { Job, Workspace } from '../types';

const RUNNING = new Set(['pending', 'running', 'cancelling']);
/** Streams kept open at once: browsers allow six HTTP/1.1 connections per host, the page needs some too. */
const MAX_LIVE_STREAMS = 3;
/** Set once the server answers that it has no job event stream: the list's polling carries progress then. */
const jobEventsMissing = signal(false);

/** A workspace's jobs, newest first: live progress, cancel, and each job's page in the Temporal Web UI. */
export function JobsTab({ workspace }: { workspace: Workspace }) {
  const [showConversations, setShowConversations] = useState(false);
  const { value, error, reload } = usePolling(
    (signal) =>
      api<{ jobs: Job[] }>(
        'GET',
        `/workspaces/${encodeURIComponent(workspace.id)}/jobs?limit=50`,
        undefined,
        signal,
      ),
    [workspace.id],
    { intervalMs: 2_000 },
  );
  const jobs = (value?.jobs ?? []).filter((j) => showConversations || j.kind !== 'conversation');
  const live = new Set(
    jobs
      .filter((j) => RUNNING.has(j.status) && j.kind !== 'conversation')
      .slice(0, MAX_LIVE_STREAMS)
      .map((j) => j.id),
  );
  return (
    <>
      <div class="section-head">
        <h2>Jobs</h2>
        <label class="inline">
          <input
            type="checkbox"
            checked={showConversations}
            onChange={(e) => setShowConversations(e.currentTarget.checked)}
          />{' '}
          Show conversations
        </label>
      </div>
      <ErrorText error={error} />
      {value && jobs.length === 0 && <p>No jobs yet.</p>}
      {jobs.length > 0 && (
        <table class="jobs responsive">
          <caption class="visually-hidden">Jobs of {workspace.name}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Status</th>
              <th scope="col">Progress</th>
              <th scope="col">Started</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {jobs.map((job) => (
              <JobRow key={job.id} job={job} live={live.has(job.id)} onChanged={reload} />
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** Folds one job event into the view, whatever its shape: a job view, a progress object, a status. */
function applyJobEvent(view: Job, type: string, data: unknown): Job {
  if (typeof data !== 'object' || data === null) return view;
  const d = data as Partial<Job> & Record<string, unknown>;
  const next: Job = { ...view };
  if (typeof d.status === 'string') next.status = d.status;
  if ('progress' in d) next.progress = d.progress;
  else if (type === 'progress') next.progress = d;
  if ('result' in d) next.result = d.result;
  if (d.error && typeof d.error === 'object') next.error = d.error as Job['error'];
  return next;
}

function JobRow({ job, live, onChanged }: { job: Job; live: boolean; onChanged: () => void }) {
  const [streamed, setStreamed] = useState<Job | null>(null);
  const [cancelling, setCancelling] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [details, setDetails] = useState<Job | null>(null);

  // Live progress from the job's event stream while it runs (the list's polling covers the rest).
  useEffect(() => {
    if (!live || jobEventsMissing.value) return;
    const stream = openEventStream(`/api/v1/jobs/${encodeURIComponent(job.id)}/events`, {
      onEvent: (e) => {
        let data: unknown;
        try {
          data = JSON.parse(e.data);
        } catch {
          return;
        }
        setStreamed((current) => applyJobEvent(current ?? job, e.type, data));
      },
      onFatal: (err) => {
        if (isMissingRoute(err)) jobEventsMissing.value = true;
      },
      // `ended` carries the job as GET /api/v1/jobs/:id answers it, and closes the stream.
      isLast: (e) => e.type === 'ended',
    });
    return () => stream.close();
    // One stream per job id while it is live.
  }, [job.id, live]);

  // The list is the truth once it has caught up with (or passed) what the stream said.
  const view = streamed && RUNNING.has(job.status) ? { ...job, ...streamed } : job;
  const running = RUNNING.has(view.status);
  const ended = !running;

  useEffect(() => {
    // A job that just ended: read its result once (what was undone, the error).
    if (ended && details === null && job.kind === 'changeset.apply' && job.status !== 'completed')
      void api<Job>('GET', `/jobs/${encodeURIComponent(job.id)}`).then(setDetails, () => undefined);
  }, [ended, job.id, job.status]);

  async function cancel() {
    setCancelling(true);
    setError(null);
    try {
      await api('POST', `/jobs/${encodeURIComponent(job.id)}/cancel`);
      onChanged();
    } catch (err) {
      setError(err);
      setCancelling(false);
    }
  }

  const label = `${jobKindLabel(job.kind)} ${shortId(job.id)}`;
  const outcome = details ?? view;
  return (
    <tr>
      <th scope="row" data-label="Job">
        {jobKindLabel(job.kind)} <code title={job.id}>{shortId(job.id)}</code>
      </th>
      <td data-label="Status">
        <StatusBadge status={cancelling && running ? 'cancelling' : view.status} />
      </td>
      <td data-label="Progress">
        {running && <ProgressView progress={view.progress} />}
        {!running && <Outcome job={outcome} />}
      </td>
      <td data-label="Started">{formatDate(job.createdAt)}</td>
      <td data-label="Actions" class="actions">
        {running && job.kind !== 'conversation' && (
          <button
            type="button"
            class="danger"
            onClick={cancel}
            disabled={cancelling}
            aria-label={`Cancel ${label}`}
          >
            Cancel
          </button>
        )}
        <a
          href={temporalUrl(job.id)}
          target="_blank"
          rel="noopener noreferrer"
          aria-label={`Temporal Web UI: ${label}`}
        >
          Temporal Web UI
        </a>
        <ErrorText error={error} />
      </td>
    </tr>
  );
}

/** How a job ended, in a sentence: what a cancelled or failed change set undid, or the error. */
function Outcome({ job }: { job: Job }) {
  const result = (job.result ?? {}) as {
    status?: string;
    recordsApplied?: number;
    recordsTotal?: number;
    undone?: unknown[];
  };
  if (job.kind === 'changeset.apply' && (job.status === 'cancelled' || job.status === 'compensated')) {
    const remaining = result.undone?.length ?? 0;
    return (
      <span>
        {remaining > 0
          ? `${formatNumber(remaining)} writes could not be undone`
          : `Compensated: every record it had applied was undone${
              typeof result.recordsApplied === 'number'
                ? ` (${formatNumber(result.recordsApplied)} of ${formatNumber(result.recordsTotal ?? 0)} applied before)`
                : ''
            }`}
      </span>
    );
  }
  if (job.error) return <span class="error-text">{job.error.message}</span>;
  if (job.result !== undefined && job.kind !== 'changeset.apply')
    return (
      <details>
        <summary>Result</summary>
        <pre>{pretty(job.result, 2_000)}</pre>
      </details>
    );
  return <span class="meta">—</span>;
}
