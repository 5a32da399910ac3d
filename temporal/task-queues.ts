/**
 * Every task queue name of the platform, in one place. A prefix separates deployments sharing a
 * namespace (and test files sharing one dev server).
 */
export function taskQueues(prefix = '') {
  return {
    /** Workflows and activities of workspaces, change sets, conversations and syncs. */
    platform: `${prefix}airtable-ops`,
  } as const;
}

export type TaskQueues = ReturnType<typeof taskQueues>;
