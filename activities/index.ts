import { createWorkspaceActivities, type WorkspaceActivityDeps } from './workspaces';

/** Everything activities may touch; tests pass fakes or narrower real pieces. */
export type ActivityDeps = WorkspaceActivityDeps;

/** Builds every activity of the platform around its dependencies (the samples-typescript pattern). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createWorkspaceActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
