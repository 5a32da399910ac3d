// The workflow bundle's entry point: every workflow type the workers register.
export { provisionWorkspace, deprovisionWorkspace } from './workspaces';
export { applyChangeSet } from './change-sets';
export { conversation } from './conversations';
export { syncRun } from './sync-runs';
