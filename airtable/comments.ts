import { airtableFetch } from './http';
import type { AirtableMetaOptions } from './meta';
import { paced } from './pacing';

/** A comment on a record, as Airtable answers it. */
export interface AirtableComment {
  id: string;
  author: { id: string; email: string; name?: string };
  text: string;
  createdTime: string;
  lastUpdatedTime: string | null;
  parentCommentId?: string;
}

function commentsPath(baseId: string, table: string, recordId: string): string {
  return `/v0/${encodeURIComponent(baseId)}/${encodeURIComponent(table)}/${encodeURIComponent(recordId)}/comments`;
}

/** `GET …/{recordId}/comments`: one page of a record's comments, newest first. */
export async function listComments(
  options: AirtableMetaOptions,
  baseId: string,
  table: string,
  recordId: string,
  page: { pageSize?: number; offset?: string } = {},
): Promise<{ comments: AirtableComment[]; offset?: string | null }> {
  const query = new URLSearchParams();
  if (page.pageSize) query.set('pageSize', String(page.pageSize));
  if (page.offset) query.set('offset', page.offset);
  const suffix = query.size > 0 ? `?${query}` : '';
  return paced(
    options.pacer,
    baseId,
    options.token,
    options.signal,
    () => airtableFetch(options, 'GET', `${commentsPath(baseId, table, recordId)}${suffix}`),
    undefined,
    'list_comments',
  );
}

/** `POST …/{recordId}/comments`: adds a comment (a reply when `parentCommentId` is given). */
export async function createComment(
  options: AirtableMetaOptions,
  baseId: string,
  table: string,
  recordId: string,
  comment: { text: string; parentCommentId?: string },
): Promise<AirtableComment> {
  return paced(
    options.pacer,
    baseId,
    options.token,
    options.signal,
    () => airtableFetch(options, 'POST', commentsPath(baseId, table, recordId), comment),
    undefined,
    'create_comment',
  );
}
