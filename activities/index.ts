import { createChangeSetActivities, type ChangeSetActivityDeps } from './change-sets';
import { createJobActivities, type JobActivityDeps } from './jobs';
import { createSyncRunActivities, type SyncRunActivityDeps } from './sync-runs';
import { createWorkspaceActivities, type WorkspaceActivityDeps } from './workspaces';

/** Everything activities may touch; built once by the worker's composition root, narrower in tests. */
export type ActivityDeps = JobActivityDeps &
  WorkspaceActivityDeps &
  ChangeSetActivityDeps &
  SyncRunActivityDeps;

/** Builds every activity of the platform around its dependencies (the samples-typescript pattern). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createJobActivities(deps),
    ...createWorkspaceActivities(deps),
    ...createChangeSetActivities(deps),
    ...createSyncRunActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
