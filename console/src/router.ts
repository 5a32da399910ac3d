import { signal } from '@preact/signals';

/**
 * Hash routes (`#/workspaces/…`): the server serves one page at `/`, so every other path stays the
 * JSON API's, and a reload or a shared link opens the same view.
 */
export type Route =
  | { name: 'workspaces' }
  | { name: 'signup' }
  | { name: 'new-workspace' }
  | { name: 'workspace'; id: string; tab: WorkspaceTab }
  | { name: 'conversation'; id: string }
  | { name: 'not-found'; path: string };

export type WorkspaceTab = 'conversations' | 'jobs' | 'syncs' | 'settings';
const TABS: WorkspaceTab[] = ['conversations', 'jobs', 'syncs', 'settings'];

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'workspaces' };
  if (parts.length === 1 && parts[0] === 'signup') return { name: 'signup' };
  if (parts[0] === 'workspaces') {
    if (parts.length === 1) return { name: 'workspaces' };
    if (parts[1] === 'new' && parts.length === 2) return { name: 'new-workspace' };
    const tab = (parts[2] ?? 'conversations') as WorkspaceTab;
    if (parts.length <= 3 && TABS.includes(tab)) return { name: 'workspace', id: parts[1]!, tab };
  }
  if (parts[0] === 'conversations' && parts.length === 2) return { name: 'conversation', id: parts[1]! };
  return { name: 'not-found', path };
}

export const route = signal<Route>(parseRoute(location.hash));
addEventListener('hashchange', () => {
  route.value = parseRoute(location.hash);
});

export const href = {
  workspaces: () => '#/',
  signup: () => '#/signup',
  signin: () => '#/',
  newWorkspace: () => '#/workspaces/new',
  workspace: (id: string, tab: WorkspaceTab = 'conversations') =>
    tab === 'conversations'
      ? `#/workspaces/${encodeURIComponent(id)}`
      : `#/workspaces/${encodeURIComponent(id)}/${tab}`,
  conversation: (id: string) => `#/conversations/${encodeURIComponent(id)}`,
};

export function navigate(to: string): void {
  if (location.hash === to) return;
  location.hash = to;
}
