/**
 * A conversation as the console shows it, built from its event stream alone (from the first event),
 * so what is on screen is always a prefix of what happened: no gap between a snapshot and a stream.
 * Local items (the message just sent, a decision just made) show at once and give way to the events
 * that confirm them.
 */

export type ChatItem =
  | {
      kind: 'message';
      id: string;
      role: 'user' | 'assistant';
      text: string;
      turnId?: string;
      local?: boolean;
    }
  | { kind: 'tool'; id: string; name: string; args: unknown; status: string; result?: unknown }
  | {
      kind: 'approval';
      id: string;
      tool: string;
      args: unknown;
      preview: unknown;
      expiresAt?: string;
      status: 'pending' | 'approved' | 'declined' | 'expired' | string;
      note?: string | null;
    }
  | { kind: 'turn-end'; id: string; ending: string; failed: boolean };

export interface ChatState {
  items: ChatItem[];
  /** idle, running, awaiting_approval or ended: from the events (or the snapshot until they come). */
  status: string;
  lastEventId?: string;
}

export type ChatAction =
  | { type: 'event'; id?: string; event: string; data: unknown }
  | { type: 'sent'; turnId: string; text: string }
  | { type: 'decided'; approvalId: string; approved: boolean }
  | { type: 'status'; status: string };

type Data = Record<string, unknown>;

/** The tool call an approval is for: the engine names approvals `approval-<tool call id>`. */
const toolCallOf = (approvalId: string) => approvalId.replace(/^approval-/, '');
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

function upsert(items: ChatItem[], item: ChatItem, match: (i: ChatItem) => boolean): ChatItem[] {
  const at = items.findIndex(match);
  if (at < 0) return [...items, item];
  const next = items.slice();
  next[at] = item;
  return next;
}

function patch<K extends ChatItem['kind']>(
  items: ChatItem[],
  kind: K,
  id: string,
  change: Partial<Extract<ChatItem, { kind: K }>>,
): ChatItem[] {
  return items.map((i) => (i.kind === kind && i.id === id ? ({ ...i, ...change } as ChatItem) : i));
}

export function chatReducer(state: ChatState, action: ChatAction): ChatState {
  switch (action.type) {
    case 'status':
      return { ...state, status: action.status };
    case 'sent':
      // The stream may have brought the turn's own events first: then they tell the state.
      if (state.items.some((i) => i.kind === 'message' && i.turnId === action.turnId)) return state;
      return {
        ...state,
        status: 'running',
        items: [
          ...state.items,
          {
            kind: 'message',
            id: `local-${action.turnId}`,
            role: 'user',
            text: action.text,
            turnId: action.turnId,
            local: true,
          },
        ],
      };
    case 'decided': {
      // Likewise: once the stream said how the approval was decided, it is the truth.
      const approval = state.items.find((i) => i.kind === 'approval' && i.id === action.approvalId);
      if (approval?.kind !== 'approval' || approval.status !== 'pending') return state;
      const items = patch(state.items, 'approval', action.approvalId, {
        status: action.approved ? 'approved' : 'declined',
      });
      const stillPending = items.some((i) => i.kind === 'approval' && i.status === 'pending');
      return {
        ...state,
        status: stillPending ? 'awaiting_approval' : 'running',
        items: patch(items, 'tool', toolCallOf(action.approvalId), {
          status: action.approved ? 'running' : 'declined',
        }),
      };
    }
    case 'event': {
      const next = applyEvent(state, action.event, (action.data ?? {}) as Data);
      // An ended conversation stays ended, whatever events of its last turn still arrive.
      return {
        ...next,
        status: state.status === 'ended' ? 'ended' : next.status,
        lastEventId: action.id ?? state.lastEventId,
      };
    }
  }
}

function applyEvent(state: ChatState, event: string, d: Data): ChatState {
  const items = state.items;
  switch (event) {
    case 'message': {
      const id = str(d.id) ?? `message-${items.length}`;
      const role = d.role === 'user' ? 'user' : 'assistant';
      const turnId = str(d.turnId);
      const item: ChatItem = { kind: 'message', id, role, text: str(d.text) ?? '', turnId };
      // The user's own message replaces the copy shown when it was sent.
      const next = upsert(
        items,
        item,
        (i) =>
          i.kind === 'message' &&
          (i.id === id || (role === 'user' && !!turnId && i.local === true && i.turnId === turnId)),
      );
      return {
        ...state,
        items: next,
        status: role === 'user' && state.status !== 'ended' ? 'running' : state.status,
      };
    }
    case 'tool_call': {
      const id = str(d.toolCallId) ?? `tool-${items.length}`;
      const existing = items.find((i) => i.kind === 'tool' && i.id === id);
      if (existing) return state;
      return {
        ...state,
        items: [...items, { kind: 'tool', id, name: str(d.name) ?? 'tool', args: d.args, status: 'running' }],
      };
    }
    case 'tool_result': {
      const id = str(d.toolCallId) ?? `tool-${items.length}`;
      const item: ChatItem = {
        kind: 'tool',
        id,
        name: str(d.name) ?? 'tool',
        args: undefined,
        status: str(d.status) ?? 'done',
        result: d.result,
      };
      const existing = items.find((i) => i.kind === 'tool' && i.id === id);
      return {
        ...state,
        items: existing
          ? patch(items, 'tool', id, { status: item.status, result: d.result })
          : [...items, item],
      };
    }
    case 'approval_requested': {
      const id = str(d.id) ?? `approval-${items.length}`;
      if (items.some((i) => i.kind === 'approval' && i.id === id))
        return { ...state, status: 'awaiting_approval' };
      return {
        ...state,
        status: 'awaiting_approval',
        items: [
          ...patch(items, 'tool', toolCallOf(id), { status: 'awaiting_approval' }),
          {
            kind: 'approval',
            id,
            tool: str(d.tool) ?? 'tool',
            args: d.args,
            preview: d.preview,
            expiresAt: str(d.expiresAt),
            status: 'pending',
          },
        ],
      };
    }
    case 'approval_decided': {
      const id = str(d.id) ?? '';
      const status = str(d.status) ?? 'decided';
      const stillPending = items.some((i) => i.kind === 'approval' && i.id !== id && i.status === 'pending');
      const decided = patch(items, 'approval', id, { status, note: str(d.note) ?? null });
      return {
        ...state,
        status: stillPending ? 'awaiting_approval' : 'running',
        // An approved call runs now; a declined or expired one gets its result in a tool_result.
        items: patch(decided, 'tool', toolCallOf(id), { status: status === 'approved' ? 'running' : status }),
      };
    }
    case 'turn_completed':
    case 'turn_failed': {
      const turnId = str(d.turnId) ?? `turn-${items.length}`;
      const ending = str(d.ending) ?? (event === 'turn_failed' ? 'failed' : 'answered');
      const next =
        event === 'turn_failed' || (ending !== 'answered' && ending !== 'step_cap')
          ? [...items, { kind: 'turn-end' as const, id: turnId, ending, failed: event === 'turn_failed' }]
          : items;
      return { ...state, items: next, status: state.status === 'ended' ? 'ended' : 'idle' };
    }
    case 'conversation_ended':
      return { ...state, status: 'ended' };
    default:
      return state;
  }
}
