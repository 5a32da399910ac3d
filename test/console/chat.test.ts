import { chatReducer, type ChatAction, type ChatState } from '../../console/src/chat';

// The console's conversation state (console/src/chat.ts), built from the event stream: what the user
// just did shows at once, and never overrides what the stream has already said.

const run = (actions: ChatAction[], from: ChatState = { items: [], status: 'idle' }) =>
  actions.reduce(chatReducer, from);

const event = (id: number, type: string, data: unknown): ChatAction => ({
  type: 'event',
  id: String(id),
  event: type,
  data,
});

const turn = [
  event(1, 'message', { id: 'm1', role: 'user', text: 'Make Acme silver', turnId: 't1' }),
  event(2, 'tool_call', { toolCallId: 'tc1', name: 'update_records', args: { tableId: 'Clients' } }),
  event(3, 'approval_requested', {
    id: 'approval-tc1',
    tool: 'update_records',
    args: {},
    preview: {
      table: 'Clients',
      update: [{ id: 'rec1', before: { Tier: 'Gold' }, after: { Tier: 'Silver' } }],
    },
    expiresAt: '2030-01-01T00:00:00.000Z',
  }),
];

describe('the console chat state', () => {
  it('shows the message just sent at once, then the stream’s copy in its place', () => {
    const sent = run([{ type: 'sent', turnId: 't1', text: 'Make Acme silver' }]);
    expect(sent.status).toBe('running');
    expect(sent.items).toEqual([expect.objectContaining({ kind: 'message', local: true, turnId: 't1' })]);
    const confirmed = run([turn[0]!], sent);
    expect(confirmed.items).toEqual([
      { kind: 'message', id: 'm1', role: 'user', text: 'Make Acme silver', turnId: 't1' },
    ]);
  });

  it('adds nothing when the stream brought the turn before the send was answered', () => {
    const streamed = run([turn[0]!, event(4, 'message', { id: 'm2', role: 'assistant', text: 'Done.' })]);
    const finished = run([event(5, 'turn_completed', { turnId: 't1', ending: 'answered' })], streamed);
    expect(run([{ type: 'sent', turnId: 't1', text: 'Make Acme silver' }], finished)).toBe(finished);
  });

  it('waits on an approval, and shows a decision at once, before the stream confirms it', () => {
    const waiting = run(turn);
    expect(waiting.status).toBe('awaiting_approval');
    expect(waiting.items.find((i) => i.kind === 'tool')).toMatchObject({ status: 'awaiting_approval' });
    const approved = run([{ type: 'decided', approvalId: 'approval-tc1', approved: true }], waiting);
    expect(approved.status).toBe('running');
    expect(approved.items.find((i) => i.kind === 'approval')).toMatchObject({ status: 'approved' });
    expect(approved.items.find((i) => i.kind === 'tool')).toMatchObject({ status: 'running' });
    const done = run(
      [
        event(4, 'approval_decided', { id: 'approval-tc1', status: 'approved', note: null }),
        event(5, 'tool_result', {
          toolCallId: 'tc1',
          name: 'update_records',
          status: 'succeeded',
          result: {},
        }),
        event(6, 'message', { id: 'm2', role: 'assistant', text: 'Acme is Silver now.', turnId: 't1' }),
        event(7, 'turn_completed', { turnId: 't1', ending: 'answered' }),
      ],
      approved,
    );
    expect(done.status).toBe('idle');
    expect(done.items.find((i) => i.kind === 'tool')).toMatchObject({ status: 'succeeded' });
    expect(done.lastEventId).toBe('7');
  });

  it('keeps what the stream said when the decision’s answer comes after it', () => {
    const streamed = run([
      ...turn,
      event(4, 'approval_decided', { id: 'approval-tc1', status: 'declined', note: 'no' }),
      event(5, 'tool_result', { toolCallId: 'tc1', name: 'update_records', status: 'declined', result: {} }),
      event(6, 'turn_completed', { turnId: 't1', ending: 'answered' }),
    ]);
    expect(streamed.status).toBe('idle');
    expect(run([{ type: 'decided', approvalId: 'approval-tc1', approved: false }], streamed)).toBe(streamed);
  });

  it('stays ended once the conversation ended', () => {
    const ended = run([...turn, event(4, 'conversation_ended', {})]);
    expect(ended.status).toBe('ended');
    expect(run([event(5, 'approval_decided', { id: 'approval-tc1', status: 'expired' })], ended).status).toBe(
      'ended',
    );
  });
});
