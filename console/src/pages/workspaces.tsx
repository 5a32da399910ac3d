import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorText, Field, PageTitle, StatusBadge, usePolling } from '../components/common';
import { ProgressView } from '../components/progress';
import { formatDate } from '../format';
import { href, navigate, type WorkspaceTab } from '../router';
import type { Job, Workspace } from '../types';
import { ConversationsTab } from './conversations';
import { JobsTab } from './jobs';
import { SettingsTab } from './settings';
import { SyncsTab } from './syncs';

/** The caller's workspaces, each a link with its name; polled while one is provisioning. */
export function WorkspaceList() {
  const { value, error } = usePolling(
    (signal) => api<{ workspaces: Workspace[] }>('GET', '/workspaces', undefined, signal),
    [],
    { intervalMs: 2_000, active: (v) => !!v?.workspaces.some((w) => w.status === 'provisioning') },
  );
  const workspaces = value?.workspaces;
  return (
    <>
      <div class="page-head">
        <PageTitle title="Workspaces">Workspaces</PageTitle>
        <a class="button primary" href={href.newWorkspace()}>
          New workspace
        </a>
      </div>
      <ErrorText error={error} />
      {workspaces === undefined && !error && <p aria-busy="true">Loading workspaces…</p>}
      {workspaces?.length === 0 && (
        <p>
          No workspace yet. A workspace connects one Airtable base:{' '}
          <a href={href.newWorkspace()}>create one</a>.
        </p>
      )}
      {workspaces && workspaces.length > 0 && (
        <ul class="cards" aria-label="Your workspaces">
          {workspaces.map((w) => (
            <li key={w.id} class="card">
              <a class="card-title" href={href.workspace(w.id)}>
                {w.name}
              </a>
              <p class="meta">
                <StatusBadge status={w.status} /> <span>base {w.airtable?.baseId ?? '—'}</span>{' '}
                <span>created {formatDate(w.createdAt)}</span>
              </p>
              {w.error && <p class="error-text">{w.error}</p>}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** A new workspace: its name, base id and token. The token is sent once and never shown again. */
export function NewWorkspace() {
  const [name, setName] = useState('');
  const [baseId, setBaseId] = useState('');
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api<{ workspace: Workspace }>('POST', '/workspaces', {
        name: name.trim(),
        airtable: { baseId: baseId.trim(), token: token.trim() },
      });
      setToken('');
      navigate(href.workspace(created.workspace.id));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <>
      <PageTitle title="New workspace">New workspace</PageTitle>
      <form onSubmit={submit} aria-busy={busy} class="narrow">
        <Field id="ws-name" label="Name">
          {() => (
            <input
              id="ws-name"
              required
              maxLength={200}
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field
          id="ws-base"
          label="Airtable base id"
          hint="app followed by 14 letters or digits, from the base's URL."
        >
          {(describedBy) => (
            <input
              id="ws-base"
              required
              pattern="app[A-Za-z0-9]{14}"
              spellcheck={false}
              autocomplete="off"
              aria-describedby={describedBy}
              value={baseId}
              onInput={(e) => setBaseId(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field
          id="ws-token"
          label="Airtable token"
          hint="A personal access token for the base. It is stored encrypted and never shown again."
        >
          {(describedBy) => (
            <input
              id="ws-token"
              type="password"
              required
              minLength={10}
              autocomplete="off"
              spellcheck={false}
              aria-describedby={describedBy}
              value={token}
              onInput={(e) => setToken(e.currentTarget.value)}
            />
          )}
        </Field>
        <ErrorText error={error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Create workspace
          </button>
          <a href={href.workspaces()}>Back to workspaces</a>
        </div>
      </form>
    </>
  );
}

const TAB_LABELS: Record<WorkspaceTab, string> = {
  conversations: 'Conversations',
  jobs: 'Jobs',
  syncs: 'Syncs',
  settings: 'Settings and usage',
};

/** One workspace: its status (with the provisioning job's progress) and its tabs. */
export function WorkspacePage({ id, tab }: { id: string; tab: WorkspaceTab }) {
  const { value: workspace, error } = usePolling(
    (signal) => api<Workspace>('GET', `/workspaces/${encodeURIComponent(id)}`, undefined, signal),
    // Read again on each tab, so a tab never starts from settings saved since (it is one small call).
    [id, tab],
    { intervalMs: 1_000, active: (w) => w === undefined || w.status === 'provisioning' },
  );
  const provisioning = workspace?.status === 'provisioning';
  const { value: jobs } = usePolling(
    (signal) =>
      provisioning
        ? api<{ jobs: Job[] }>(
            'GET',
            `/workspaces/${encodeURIComponent(id)}/jobs?kind=workspace.provision&limit=1`,
            undefined,
            signal,
          ).catch(() => ({ jobs: [] as Job[] }))
        : Promise.resolve({ jobs: [] as Job[] }),
    [id, provisioning],
    { intervalMs: 1_000, active: () => provisioning },
  );
  if (error && !workspace)
    return (
      <>
        <PageTitle title="Workspace">Workspace</PageTitle>
        <ErrorText error={error} />
        <a href={href.workspaces()}>Back to workspaces</a>
      </>
    );
  if (!workspace) return <p aria-busy="true">Loading the workspace…</p>;
  const provisioningJob = jobs?.jobs[0];
  let content: ComponentChildren;
  if (tab === 'conversations') content = <ConversationsTab workspace={workspace} />;
  else if (tab === 'jobs') content = <JobsTab workspace={workspace} />;
  else if (tab === 'syncs') content = <SyncsTab workspace={workspace} />;
  else content = <SettingsTab workspace={workspace} />;
  return (
    <>
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <a href={href.workspaces()}>Workspaces</a>
      </nav>
      <div class="page-head">
        <PageTitle title={`${workspace.name}: ${TAB_LABELS[tab]}`}>{workspace.name}</PageTitle>
        <StatusBadge status={workspace.status} />
      </div>
      <div role="status" class="workspace-status">
        {provisioning && (
          <p>
            Provisioning: checking the token and the base, reading its schema.{' '}
            {provisioningJob?.progress !== undefined && <ProgressView progress={provisioningJob.progress} />}
          </p>
        )}
        {workspace.status === 'failed' && <p class="error-text">Provisioning failed: {workspace.error}</p>}
      </div>
      <p class="meta">Airtable base {workspace.airtable?.baseId}</p>
      <nav aria-label="Workspace sections" class="tabs">
        {(Object.keys(TAB_LABELS) as WorkspaceTab[]).map((t) => (
          <a key={t} href={href.workspace(id, t)} aria-current={t === tab ? 'page' : undefined}>
            {TAB_LABELS[t]}
          </a>
        ))}
      </nav>
      <section aria-label={TAB_LABELS[tab]}>{content}</section>
    </>
  );
}
