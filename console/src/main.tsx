import { render } from 'preact';
import { useState } from 'preact/hooks';
import './styles.css';
import { PageTitle } from './components/common';
import { SignIn, SignUp } from './pages/auth';
import { ConversationPage } from './pages/conversations';
import { NewWorkspace, WorkspaceList, WorkspacePage } from './pages/workspaces';
import { href, navigate, route } from './router';
import { endSession, session } from './session';

/** Sign out: the refresh token is spent on the server (its login ends at once), then forgotten here. */
function SignOutButton() {
  const [busy, setBusy] = useState(false);
  return (
    <button
      type="button"
      class="link-button"
      disabled={busy}
      onClick={async () => {
        setBusy(true);
        const refreshToken = session.value?.refreshToken;
        if (refreshToken)
          await fetch('/api/v1/auth/logout', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ refreshToken }),
          }).catch(() => undefined);
        endSession('You have signed out.');
        navigate(href.signin());
      }}
    >
      Sign out
    </button>
  );
}

function Page() {
  const r = route.value;
  switch (r.name) {
    case 'workspaces':
    case 'signup':
      return <WorkspaceList />;
    case 'new-workspace':
      return <NewWorkspace />;
    case 'workspace':
      return <WorkspacePage key={r.id} id={r.id} tab={r.tab} />;
    case 'conversation':
      return <ConversationPage key={r.id} id={r.id} />;
    case 'not-found':
      return (
        <>
          <PageTitle title="Not found">Nothing here</PageTitle>
          <p>
            No page at <code>{r.path}</code>. <a href={href.workspaces()}>Go to your workspaces</a>.
          </p>
        </>
      );
  }
}

function App() {
  const current = session.value;
  if (!current) return route.value.name === 'signup' ? <SignUp /> : <SignIn />;
  return (
    <>
      <a
        class="skip-link"
        href="#main"
        onClick={(e) => {
          e.preventDefault();
          document.getElementById('main')?.focus();
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={href.workspaces()}>
          Airtable Ops
        </a>
        <nav aria-label="Account" class="account">
          <span class="meta" title={current.email}>
            {current.email}
          </span>
          <SignOutButton />
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <Page />
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);
