import type { LanguageModel } from '../domain/agent/llm';
import { DEFAULT_AGENT_SETTINGS, type AgentSettings } from '../domain/agent/engine';
import { createChangeSetRecorder } from '../domain/change-sets/recorder';
import { createChangeSetActivities, type ChangeSetActivityDeps } from './change-sets';
import { createConversationActivities } from './conversations';
import { createJobActivities, type JobActivityDeps } from './jobs';
import { createSyncRunActivities, type SyncRunActivityDeps } from './sync-runs';
import { createWorkspaceActivities, type WorkspaceActivityDeps } from './workspaces';

/** Everything activities may touch; built once by the worker's composition root, narrower in tests. */
export type ActivityDeps = JobActivityDeps &
  WorkspaceActivityDeps &
  ChangeSetActivityDeps &
  SyncRunActivityDeps & {
    /** The agent's language model; without one, turns end saying so. */
    model?: LanguageModel;
    /** @default DEFAULT_AGENT_SETTINGS */
    agentSettings?: AgentSettings;
  };

/** Builds every activity of the platform around its dependencies (the samples-typescript pattern). */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createJobActivities(deps),
    ...createWorkspaceActivities(deps),
    ...createChangeSetActivities(deps),
    ...createSyncRunActivities(deps),
    ...createConversationActivities({
      ...deps,
      model: deps.model,
      settings: deps.agentSettings ?? DEFAULT_AGENT_SETTINGS,
      changeSets: createChangeSetRecorder(deps),
    }),
  };
}

export type Activities = ReturnType<typeof createActivities>;
