import { useEffect, useReducer, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { chatReducer, type ChatItem } from '../chat';
import { ErrorText, PageTitle, StatusBadge, usePolling } from '../components/common';
import { PreviewView } from '../components/preview';
import { compact, formatDate, formatNumber, formatUsd, pretty } from '../format';
import { href, navigate } from '../router';
import { openEventStream } from '../sse';
import type { Conversation, Workspace } from '../types';

const titleOf = (c: Conversation) => c.title ?? `Conversation of ${formatDate(c.createdAt)}`;

/** A workspace's conversations and the button that starts one. */
export function ConversationsTab({ workspace }: { workspace: Workspace }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const active = workspace.status === 'active';
  const { value, error: listError } = usePolling(
    (signal) =>
      active
        ? api<{ conversations: Conversation[] }>(
            'GET',
            `/workspaces/${encodeURIComponent(workspace.id)}/conversations`,
            undefined,
            signal,
          )
        : Promise.resolve({ conversations: [] as Conversation[] }),
    [workspace.id, active],
    { intervalMs: 10_000 },
  );

  async function start() {
    setBusy(true);
    setError(null);
    try {
      const created = await api<{ conversation: Conversation }>(
        'POST',
        `/workspaces/${encodeURIComponent(workspace.id)}/conversations`,
        {},
      );
      navigate(href.conversation(created.conversation.id));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <>
      <div class="section-head">
        <h2>Conversations</h2>
        <button
          type="button"
          class="primary"
          onClick={start}
          disabled={busy || !active}
          aria-describedby={active ? undefined : 'conversations-inactive'}
        >
          New conversation
        </button>
      </div>
      {!active && (
        <p id="conversations-inactive" class="hint">
          Conversations open once the workspace is active.
        </p>
      )}
      <ErrorText error={error ?? listError} />
      {value && value.conversations.length === 0 && active && (
        <p>No conversation yet: ask the agent about your base.</p>
      )}
      {value && value.conversations.length > 0 && (
        <ul class="list" aria-label="Conversations">
          {value.conversations.map((c) => (
            <li key={c.id}>
              <a href={href.conversation(c.id)}>{titleOf(c)}</a> <StatusBadge status={c.status} />{' '}
              <span class="meta">{formatDate(c.createdAt)}</span>
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

const STATUS_TEXT: Record<string, string> = {
  loading: 'Loading…',
  idle: 'Ready for your message.',
  running: 'The agent is working…',
  awaiting_approval: 'Waiting for your decision on a change.',
  ended: 'This conversation has ended.',
};

/** A chat with the agent: its events live, tool calls compact, approvals with their preview. */
export function ConversationPage({ id }: { id: string }) {
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [streamDown, setStreamDown] = useState(false);
  const [workspaceName, setWorkspaceName] = useState<string | null>(null);
  const [chat, dispatch] = useReducer(chatReducer, { items: [], status: 'loading' });
  const path = `/conversations/${encodeURIComponent(id)}`;

  const refresh = async () => {
    try {
      const c = await api<Conversation>('GET', path);
      setConversation(c);
      return c;
    } catch (err) {
      setLoadError(err);
      return null;
    }
  };

  useEffect(() => {
    let stream: { close(): void } | undefined;
    let cancelled = false;
    void (async () => {
      const c = await refresh();
      if (!c || cancelled) return;
      dispatch({ type: 'status', status: c.status });
      // The workspace's name, for the way back (the page works without it).
      void api<Workspace>('GET', `/workspaces/${encodeURIComponent(c.workspaceId)}`).then(
        (w) => !cancelled && setWorkspaceName(w.name),
        () => undefined,
      );
      stream = openEventStream(`/api/v1${path}/events`, {
        onEvent: (e) => {
          let data: unknown = {};
          try {
            data = JSON.parse(e.data);
          } catch {
            // a comment-like payload: keep the event without data
          }
          dispatch({ type: 'event', id: e.id, event: e.type, data });
          if (e.type === 'turn_completed' || e.type === 'turn_failed') void refresh();
        },
        onConnection: (open) => setStreamDown(!open),
        onFatal: (err) => setLoadError(err),
        isLast: (e) => e.type === 'conversation_ended',
      });
    })();
    return () => {
      cancelled = true;
      stream?.close();
    };
    // A new conversation id is a new page.
  }, [id]);

  if (loadError && !conversation)
    return (
      <>
        <PageTitle title="Conversation">Conversation</PageTitle>
        <ErrorText error={loadError} />
        <a href={href.workspaces()}>Back to workspaces</a>
      </>
    );
  if (!conversation) return <p aria-busy="true">Loading the conversation…</p>;

  return (
    <div class="conversation">
      <nav aria-label="Breadcrumb" class="breadcrumb">
        <a href={href.workspaces()}>Workspaces</a> ›{' '}
        <a href={href.workspace(conversation.workspaceId)}>{workspaceName ?? 'Workspace'}</a>
      </nav>
      <div class="page-head">
        <PageTitle title={titleOf(conversation)}>{titleOf(conversation)}</PageTitle>
        <EndButton path={path} ended={chat.status === 'ended'} />
      </div>
      <p class="meta">
        {formatNumber(conversation.usage?.inputTokens ?? 0)} tokens in,{' '}
        {formatNumber(conversation.usage?.outputTokens ?? 0)} out,{' '}
        {formatUsd(conversation.usage?.costUsd ?? 0)}
      </p>
      <div role="log" aria-label="Messages" aria-live="polite">
        <ol class="chat">
          {chat.items.map((item) => (
            <ChatEntry
              key={`${item.kind}-${item.id}`}
              item={item}
              conversationPath={path}
              onDecided={dispatch}
            />
          ))}
        </ol>
      </div>
      <p role="status" class="chat-status">
        {STATUS_TEXT[chat.status] ?? chat.status}
        {streamDown && ' (reconnecting to the live events…)'}
      </p>
      {chat.status !== 'ended' && (
        <Composer
          path={path}
          busy={chat.status !== 'idle'}
          onSent={(turnId, text) => dispatch({ type: 'sent', turnId, text })}
        />
      )}
    </div>
  );
}

function EndButton({ path, ended }: { path: string; ended: boolean }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  if (ended) return <StatusBadge status="ended" />;
  return (
    <span>
      <button
        type="button"
        disabled={busy}
        onClick={async () => {
          if (!confirm('End this conversation? A change set it is applying is undone.')) return;
          setBusy(true);
          try {
            await api('DELETE', path);
          } catch (err) {
            setError(err);
            setBusy(false);
          }
        }}
      >
        End conversation
      </button>
      <ErrorText error={error} />
    </span>
  );
}

function Composer({
  path,
  busy,
  onSent,
}: {
  path: string;
  busy: boolean;
  onSent: (turnId: string, text: string) => void;
}) {
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const form = useRef<HTMLFormElement>(null);

  async function send(event: Event) {
    event.preventDefault();
    const message = text.trim();
    if (!message || busy || sending) return;
    setSending(true);
    setError(null);
    try {
      const { turn } = await api<{ turn: { id: string } }>('POST', `${path}/messages`, { text: message });
      setText('');
      onSent(turn.id, message);
    } catch (err) {
      setError(
        err instanceof ApiError && err.code === 'turn_in_progress'
          ? new Error('The agent is still busy with the last message.')
          : err,
      );
    } finally {
      setSending(false);
    }
  }

  return (
    <form class="composer" ref={form} onSubmit={send}>
      <label for="composer-message">Message</label>
      <div class="composer-row">
        <textarea
          id="composer-message"
          rows={2}
          maxLength={32_000}
          value={text}
          aria-describedby="composer-hint"
          onInput={(e) => setText(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              form.current?.requestSubmit();
            }
          }}
        />
        <button type="submit" class="primary" disabled={busy || sending || text.trim() === ''}>
          Send
        </button>
      </div>
      <p id="composer-hint" class="hint">
        Enter sends, Shift+Enter starts a new line.
      </p>
      <ErrorText error={error} />
    </form>
  );
}

function ChatEntry({
  item,
  conversationPath,
  onDecided,
}: {
  item: ChatItem;
  conversationPath: string;
  onDecided: (action: { type: 'decided'; approvalId: string; approved: boolean }) => void;
}) {
  switch (item.kind) {
    case 'message':
      return (
        <li class={`message message-${item.role}`}>
          <span class="who">{item.role === 'user' ? 'You' : 'Agent'}</span>
          <p class="text">{item.text}</p>
          {item.local && <span class="meta">sent</span>}
        </li>
      );
    case 'tool':
      return (
        <li class="tool">
          <details>
            <summary>
              <span class="tool-name">{item.name}</span> <StatusBadge status={item.status} />{' '}
              <span class="meta">{summarize(item.result)}</span>
            </summary>
            {item.args !== undefined && (
              <>
                <h3 class="small">Arguments</h3>
                <pre>{pretty(item.args)}</pre>
              </>
            )}
            {item.result !== undefined && (
              <>
                <h3 class="small">Result</h3>
                <pre>{pretty(item.result)}</pre>
              </>
            )}
          </details>
        </li>
      );
    case 'approval':
      return (
        <li class="approval-item">
          <ApprovalCard item={item} conversationPath={conversationPath} onDecided={onDecided} />
        </li>
      );
    case 'turn-end':
      return (
        <li class="turn-end">
          <span class="meta">
            {item.failed ? `The turn failed (${item.ending}).` : `The turn ended: ${item.ending}.`}
          </span>
        </li>
      );
  }
}

/** A tool result in a few words: a count, a list's length, an error. */
function summarize(result: unknown): string {
  if (result === undefined || result === null) return '';
  if (typeof result !== 'object') return compact(result, 60);
  const r = result as Record<string, unknown>;
  if (typeof r.error === 'string') return r.error;
  if (
    r.error &&
    typeof r.error === 'object' &&
    typeof (r.error as { message?: unknown }).message === 'string'
  )
    return (r.error as { message: string }).message;
  if (typeof r.message === 'string') return compact(r.message, 60);
  if (typeof r.count === 'number') return `count ${formatNumber(r.count)}`;
  for (const key of ['records', 'tables', 'bases', 'fields', 'comments', 'rows', 'groups', 'duplicates']) {
    const v = r[key];
    if (Array.isArray(v)) return `${formatNumber(v.length)} ${key}`;
  }
  if (typeof r.changeSet === 'string') return `change set ${r.changeSet.slice(-8)}`;
  return compact(result, 60);
}

function ApprovalCard({
  item,
  conversationPath,
  onDecided,
}: {
  item: Extract<ChatItem, { kind: 'approval' }>;
  conversationPath: string;
  onDecided: (action: { type: 'decided'; approvalId: string; approved: boolean }) => void;
}) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const headingId = `approval-${item.id}`;
  const pending = item.status === 'pending';

  async function decide(approved: boolean) {
    setBusy(true);
    setError(null);
    try {
      await api('POST', `${conversationPath}/approvals/${encodeURIComponent(item.id)}`, {
        approved,
        ...(note.trim() ? { note: note.trim() } : {}),
      });
      onDecided({ type: 'decided', approvalId: item.id, approved });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <section class={`approval approval-${item.status}`} aria-labelledby={headingId}>
      <h2 id={headingId} class="approval-title">
        {pending ? 'Approval needed' : 'Change'}: <code>{item.tool}</code>{' '}
        {!pending && <StatusBadge status={item.status} />}
      </h2>
      <PreviewView preview={item.preview} />
      {pending && (
        <>
          {item.expiresAt && (
            <p class="meta">Counts as declined if nobody decides by {formatDate(item.expiresAt)}.</p>
          )}
          <div class="field">
            <label for={`${headingId}-note`}>Note (optional)</label>
            <input
              id={`${headingId}-note`}
              value={note}
              maxLength={2000}
              onInput={(e) => setNote(e.currentTarget.value)}
            />
          </div>
          <div class="actions">
            <button type="button" class="primary" disabled={busy} onClick={() => decide(true)}>
              Approve
            </button>
            <button type="button" class="danger" disabled={busy} onClick={() => decide(false)}>
              Decline
            </button>
          </div>
          <ErrorText error={error} />
        </>
      )}
      {item.note && <p class="meta">Note: {item.note}</p>}
    </section>
  );
}
