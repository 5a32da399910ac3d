import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Imported by workflows, the client and the dev server alike: keep it free of Node built-ins.

/** The workspace a job belongs to: `temporal workflow list --query 'WorkspaceId="…"'`. */
export const WORKSPACE_ID = defineSearchAttributeKey('WorkspaceId', SearchAttributeType.KEYWORD);
/** The user who started the job. */
export const USER_ID = defineSearchAttributeKey('UserId', SearchAttributeType.KEYWORD);
/** What the job does, one of {@link JobKind}. */
export const JOB_KIND = defineSearchAttributeKey('JobKind', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_KEYS = [WORKSPACE_ID, USER_ID, JOB_KIND] as const;

/** The kinds of job the platform runs; each is one workflow type. */
export type JobKind =
  'workspace.provision' | 'workspace.deprovision' | 'changeset.apply' | 'conversation' | 'sync.run';
