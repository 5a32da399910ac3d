import { useState } from 'preact/hooks';
import { api } from '../api';
import { ErrorText, Field, usePolling } from '../components/common';
import { formatNumber, formatUsd, jobKindLabel } from '../format';
import type { Usage, Workspace } from '../types';

const POLICIES = [
  { value: 'writes', label: 'Changes to the base wait for approval (default)' },
  { value: 'always', label: 'Every tool call waits for approval' },
  { value: 'never', label: 'Nothing waits for approval' },
];

/** The workspace's agent settings and this month's usage. */
export function SettingsTab({ workspace }: { workspace: Workspace }) {
  // Saving a budget changes what the usage panel compares against: it reads again.
  const [saves, setSaves] = useState(0);
  return (
    <div class="columns">
      <SettingsForm workspace={workspace} onSaved={() => setSaves((n) => n + 1)} />
      <UsagePanel workspaceId={workspace.id} saves={saves} />
    </div>
  );
}

function SettingsForm({ workspace, onSaved }: { workspace: Workspace; onSaved: () => void }) {
  const settings = workspace.settings;
  const [policy, setPolicy] = useState<string>(settings?.approvalPolicy ?? 'writes');
  const [budget, setBudget] = useState(
    settings?.monthlyBudgetUsd === null || settings?.monthlyBudgetUsd === undefined
      ? ''
      : String(settings.monthlyBudgetUsd),
  );
  const [model, setModel] = useState(settings?.model ?? '');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSaved(null);
    try {
      await api<Workspace>('PATCH', `/workspaces/${encodeURIComponent(workspace.id)}`, {
        settings: {
          approvalPolicy: policy,
          monthlyBudgetUsd: budget.trim() === '' ? null : Number(budget),
          model: model.trim() === '' ? null : model.trim(),
        },
      });
      setSaved('Settings saved.');
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} aria-labelledby="settings-title" class="card">
      <h2 id="settings-title">Agent settings</h2>
      <Field id="settings-policy" label="Approval policy">
        {() => (
          <select id="settings-policy" value={policy} onChange={(e) => setPolicy(e.currentTarget.value)}>
            {POLICIES.map((p) => (
              <option key={p.value} value={p.value}>
                {p.label}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field
        id="settings-budget"
        label="Monthly budget (USD)"
        hint="The agent stops calling the model once this month's cost reaches it. Empty: no budget."
      >
        {(describedBy) => (
          <input
            id="settings-budget"
            type="number"
            min={0}
            step="0.01"
            inputMode="decimal"
            aria-describedby={describedBy}
            value={budget}
            onInput={(e) => setBudget(e.currentTarget.value)}
          />
        )}
      </Field>
      <Field id="settings-model" label="Model" hint="A Gemini model id; empty: the server's default.">
        {(describedBy) => (
          <input
            id="settings-model"
            spellcheck={false}
            autocomplete="off"
            placeholder="gemini-3-flash-preview"
            aria-describedby={describedBy}
            value={model}
            onInput={(e) => setModel(e.currentTarget.value)}
          />
        )}
      </Field>
      <ErrorText error={error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          Save settings
        </button>
        <span role="status">{saved}</span>
      </div>
    </form>
  );
}

function UsagePanel({ workspaceId, saves }: { workspaceId: string; saves: number }) {
  const { value: usage, error } = usePolling(
    (signal) => api<Usage>('GET', `/workspaces/${encodeURIComponent(workspaceId)}/usage`, undefined, signal),
    [workspaceId, saves],
    { intervalMs: 15_000 },
  );
  const share = usage?.budgetUsd ? Math.min(1, usage.costUsd / usage.budgetUsd) : undefined;
  return (
    <section class="card" aria-labelledby="usage-title">
      <h2 id="usage-title">Usage this month{usage ? ` (${usage.month})` : ''}</h2>
      <ErrorText error={error} />
      {usage && (
        <>
          <dl class="facts">
            <dt>Model cost</dt>
            <dd>
              {formatUsd(usage.costUsd)}
              {usage.budgetUsd !== null && usage.budgetUsd !== undefined
                ? ` of ${formatUsd(usage.budgetUsd)}`
                : ' (no budget)'}
            </dd>
            <dt>Tokens in</dt>
            <dd>{formatNumber(usage.inputTokens)}</dd>
            <dt>Tokens out</dt>
            <dd>{formatNumber(usage.outputTokens)}</dd>
            {usage.thinkingTokens !== undefined && (
              <>
                <dt>Thinking tokens</dt>
                <dd>{formatNumber(usage.thinkingTokens)}</dd>
              </>
            )}
            <dt>Airtable requests</dt>
            <dd>{formatNumber(usage.airtableRequests)}</dd>
          </dl>
          {share !== undefined && (
            <p>
              <label for="usage-budget">Budget used</label>{' '}
              <meter id="usage-budget" min={0} max={1} low={0.7} high={0.9} optimum={0} value={share}>
                {Math.round(share * 100)}%
              </meter>{' '}
              {Math.round(share * 100)}%
            </p>
          )}
          <h3>Jobs this month</h3>
          <JobCounts jobs={usage.jobs} />
        </>
      )}
    </section>
  );
}

function JobCounts({ jobs }: { jobs: Record<string, unknown> }) {
  const entries = Object.entries(jobs ?? {});
  if (entries.length === 0) return <p>None.</p>;
  return (
    <ul class="list">
      {entries.map(([kind, count]) => (
        <li key={kind}>
          {jobKindLabel(kind)}:{' '}
          {typeof count === 'number'
            ? formatNumber(count)
            : Object.entries((count ?? {}) as Record<string, number>)
                .map(([status, n]) => `${formatNumber(n)} ${status}`)
                .join(', ')}
        </li>
      ))}
    </ul>
  );
}
