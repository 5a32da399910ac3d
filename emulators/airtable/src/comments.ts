/**
 * Record comments: `GET|POST /v0/{baseId}/{tableIdOrName}/{recordId}/comments` and
 * `PATCH|DELETE …/comments/{rowCommentId}`, as airtable.com/developers/web/api documents them
 * (list-comments, create-comment, update-comment, delete-comment, model/user-mentioned).
 */
import { errors } from './errors';
import type { BaseState, Collaborator, CommentState, EmulatorStore, RecordState, TableState } from './store';

/** What a comment endpoint gets from the router. */
export interface CommentCall {
  store: EmulatorStore;
  base: BaseState;
  table: TableState;
  /** The token's user: the author of new comments, the only one who may edit or delete them. */
  user: Collaborator;
  now: number;
  query: URLSearchParams;
  body: unknown;
  /** The users a comment may mention (collaborators of the base), computed only when needed. */
  users: () => Collaborator[];
}

export const MAX_COMMENT_PAGE_SIZE = 100;

/** `@[usr…]` or `@[someone@example.com]` (user groups `ugp…` are not modelled). */
const MENTION = /@\[([^\]\s]+)\]/g;

interface Directory {
  byId: Map<string, Collaborator>;
  byEmail: Map<string, Collaborator>;
}

function directory(users: Collaborator[]): Directory {
  const byId = new Map<string, Collaborator>();
  const byEmail = new Map<string, Collaborator>();
  for (const user of users) {
    if (!byId.has(user.id)) byId.set(user.id, user);
    const email = user.email.toLowerCase();
    if (!byEmail.has(email)) byEmail.set(email, user);
  }
  return { byId, byEmail };
}

/** Stored text: users mentioned by email are rewritten to `@[usrId]`, as Airtable answers them. */
function storedText(call: CommentCall, text: string): string {
  if (!text.includes('@[')) return text;
  const users = directory(call.users());
  return text.replace(MENTION, (whole, ref: string) => {
    const user = users.byId.get(ref) ?? users.byEmail.get(ref.toLowerCase());
    return user ? `@[${user.id}]` : whole;
  });
}

/** The comment as the API returns it. */
function renderComment(comment: CommentState, users: () => Directory): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: comment.id,
    author: { id: comment.author.id, email: comment.author.email, name: comment.author.name },
    text: comment.text,
    createdTime: new Date(comment.createdTime).toISOString(),
    lastUpdatedTime:
      comment.lastUpdatedTime === null ? null : new Date(comment.lastUpdatedTime).toISOString(),
  };
  if (comment.parentCommentId !== undefined) out.parentCommentId = comment.parentCommentId;
  if (comment.text.includes('@[')) {
    const mentioned: Record<string, unknown> = {};
    for (const match of comment.text.matchAll(MENTION)) {
      const user = users().byId.get(match[1]!);
      if (user) mentioned[user.id] = { type: 'user', id: user.id, displayName: user.name, email: user.email };
    }
    if (Object.keys(mentioned).length > 0) out.mentioned = mentioned;
  }
  return out;
}

function lazyDirectory(call: CommentCall): () => Directory {
  let built: Directory | undefined;
  return () => (built ??= directory(call.users()));
}

/** The record of the URL; like the other single-record writes it must belong to the table named. */
function recordOf(call: CommentCall, recordId: string): RecordState {
  const record = call.base.records.get(recordId);
  if (!record || record.tableId !== call.table.id) throw errors.recordNotFound();
  return record;
}

function commentOf(record: RecordState, commentId: string): CommentState {
  const comment = record.comments.find((c) => c.id === commentId);
  if (!comment) throw errors.commentNotFound();
  return comment;
}

/** Newest first; comments made in the same millisecond keep their reverse creation order. */
function newestFirst(record: RecordState): CommentState[] {
  return record.comments
    .map((comment, index) => ({ comment, index }))
    .sort((a, b) => b.comment.createdTime - a.comment.createdTime || b.index - a.index)
    .map((entry) => entry.comment);
}

function bodyObject(body: unknown, allowed: string[]): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw errors.invalidRequest();
  const object = body as Record<string, unknown>;
  for (const key of Object.keys(object)) if (!allowed.includes(key)) throw errors.invalidRequest();
  return object;
}

function commentText(object: Record<string, unknown>): string {
  const text = object.text;
  if (typeof text !== 'string' || text.trim() === '') throw errors.invalidRequest();
  return text;
}

/**
 * `GET …/comments?pageSize=&offset=` → `{comments, offset}`: newest first, `pageSize` 1–100
 * (default 100). `offset` is the id of the first comment of the next page, or null on the last
 * page (Airtable documents it as `string | null`).
 */
export function listComments(call: CommentCall, recordId: string): unknown {
  const record = recordOf(call, recordId);
  const rawSize = call.query.get('pageSize');
  let pageSize = MAX_COMMENT_PAGE_SIZE;
  if (rawSize !== null) {
    pageSize = /^\d+$/.test(rawSize.trim()) ? Number(rawSize) : NaN;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_COMMENT_PAGE_SIZE)
      throw errors.invalidRequest();
  }
  const ordered = newestFirst(record);
  let start = 0;
  const offset = call.query.get('offset');
  if (offset) {
    start = ordered.findIndex((c) => c.id === offset);
    if (start < 0) throw errors.invalidOffset(offset);
  }
  const page = ordered.slice(start, start + pageSize);
  const next = ordered[start + pageSize];
  const users = lazyDirectory(call);
  return { comments: page.map((c) => renderComment(c, users)), offset: next ? next.id : null };
}

/** `POST …/comments` `{text, parentCommentId?}` → the new comment, by the token's user. */
export function createComment(call: CommentCall, recordId: string): unknown {
  const record = recordOf(call, recordId);
  const body = bodyObject(call.body, ['text', 'parentCommentId']);
  const text = commentText(body);
  const parent = body.parentCommentId;
  if (parent !== undefined && parent !== null) {
    if (typeof parent !== 'string') throw errors.invalidRequest();
    if (!record.comments.some((c) => c.id === parent)) {
      throw errors.invalidRequest(
        `Invalid request: parentCommentId ${parent} is not a comment on record ${record.id}.`,
      );
    }
  }
  const comment: CommentState = {
    id: call.store.ids.next('com'),
    author: call.user,
    text: storedText(call, text),
    createdTime: call.now,
    lastUpdatedTime: null,
    ...(typeof parent === 'string' ? { parentCommentId: parent } : {}),
  };
  call.store.transaction((txn) =>
    call.store.change(
      txn,
      () => record.comments.push(comment),
      () => record.comments.splice(record.comments.indexOf(comment), 1),
    ),
  );
  return renderComment(comment, lazyDirectory(call));
}

/** `PATCH …/comments/{rowCommentId}` `{text}` → the comment; only its author may. */
export function updateComment(call: CommentCall, recordId: string, commentId: string): unknown {
  const record = recordOf(call, recordId);
  const comment = commentOf(record, commentId);
  if (comment.author.id !== call.user.id) throw errors.notCommentAuthor('update');
  const text = storedText(call, commentText(bodyObject(call.body, ['text'])));
  const before = { text: comment.text, lastUpdatedTime: comment.lastUpdatedTime };
  call.store.transaction((txn) =>
    call.store.change(
      txn,
      () => {
        comment.text = text;
        comment.lastUpdatedTime = call.now;
      },
      () => Object.assign(comment, before),
    ),
  );
  return renderComment(comment, lazyDirectory(call));
}

/** `DELETE …/comments/{rowCommentId}` → `{id, deleted: true}`; only its author may (no admins here). */
export function deleteComment(call: CommentCall, recordId: string, commentId: string): unknown {
  const record = recordOf(call, recordId);
  const comment = commentOf(record, commentId);
  if (comment.author.id !== call.user.id) throw errors.notCommentAuthor('delete');
  const index = record.comments.indexOf(comment);
  call.store.transaction((txn) =>
    call.store.change(
      txn,
      () => record.comments.splice(index, 1),
      () => record.comments.splice(index, 0, comment),
    ),
  );
  return { id: comment.id, deleted: true };
}
