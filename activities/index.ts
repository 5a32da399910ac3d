import { createChangeSetActivities, type ChangeSetActivityDeps } from './change-sets';
import { createSyncRunActivities, type SyncRunActivityDeps } from './sync-runs';
import { createWorkspaceActivities, type WorkspaceActivityDeps } from './workspaces';

/** Everything activities may touch; tests pass fakes or narrower real pieces. */
export type ActivityDeps = WorkspaceActivityDeps & ChangeSetActivityDeps & SyncRunActivityDeps;

/** Builds every activity of the platform around its dependencies (the samples-typescript pattern). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createWorkspaceActivities(deps),
    ...createChangeSetActivities(deps),
    ...createSyncRunActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
