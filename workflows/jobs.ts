import { upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { JOB_KIND, USER_ID, WORKSPACE_ID, type JobKind } from '../temporal/search-attributes';

// What every job workflow shares: how it is tagged, and how its failures are worded.

/**
 * Tags the job so the Web UI and `temporal workflow list` can find it by workspace, user and kind.
 * The API sets these at start; this covers workflows started another way (e.g. the CLI).
 */
export function tagJob(kind: JobKind, workspaceId: string, userId: string): void {
  if (workflowInfo().typedSearchAttributes.get(JOB_KIND) !== undefined) return;
  upsertSearchAttributes([
    { key: WORKSPACE_ID, value: workspaceId },
    { key: USER_ID, value: userId },
    { key: JOB_KIND, value: kind },
  ]);
}

/** An error and its causes, outermost first (an activity failure wraps what the activity threw). */
export function causeChain(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let current = err; current; current = (current as { cause?: unknown }).cause) {
    chain.push(current);
    if (typeof current !== 'object') break;
  }
  return chain;
}

/** The innermost message of an activity failure: what Airtable or the step said, not the wrapper. */
export function failureReason(err: unknown): string {
  const innermost = causeChain(err).at(-1);
  return innermost instanceof Error ? innermost.message : String(err);
}
