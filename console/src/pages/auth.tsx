import { useState } from 'preact/hooks';
import { publicApi } from '../api';
import { ErrorText, Field, PageTitle } from '../components/common';
import { href, navigate } from '../router';
import { signInNotice, startSession } from '../session';

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/** Sign in: email and password; the notice says why the user is here (an expired session, signing out). */
export function SignIn() {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const notice = signInNotice.value;

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const tokens = await publicApi<Tokens>('/auth/login', { email: email.trim(), password });
      startSession(tokens, email.trim());
      navigate(href.workspaces());
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main id="main" class="auth">
      <PageTitle title="Sign in">Sign in to Airtable Ops</PageTitle>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit} aria-busy={busy}>
        <Field id="signin-email" label="Email">
          {() => (
            <input
              id="signin-email"
              type="email"
              autocomplete="username"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field id="signin-password" label="Password">
          {() => (
            <input
              id="signin-password"
              type="password"
              autocomplete="current-password"
              required
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          )}
        </Field>
        <ErrorText error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <p>
        No account yet? <a href={href.signup()}>Create an account</a>
      </p>
    </main>
  );
}

/** Sign up: an account, then straight in. */
export function SignUp() {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const tokens = await publicApi<Tokens>('/auth/register', {
        email: email.trim(),
        password,
        ...(name.trim() ? { name: name.trim() } : {}),
      });
      startSession(tokens, email.trim());
      navigate(href.workspaces());
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <main id="main" class="auth">
      <PageTitle title="Create an account">Create an account</PageTitle>
      <form onSubmit={submit} aria-busy={busy}>
        <Field id="signup-name" label="Name (optional)">
          {() => (
            <input
              id="signup-name"
              autocomplete="name"
              value={name}
              onInput={(e) => setName(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field id="signup-email" label="Email">
          {() => (
            <input
              id="signup-email"
              type="email"
              autocomplete="username"
              required
              value={email}
              onInput={(e) => setEmail(e.currentTarget.value)}
            />
          )}
        </Field>
        <Field id="signup-password" label="Password" hint="At least 8 characters.">
          {(describedBy) => (
            <input
              id="signup-password"
              type="password"
              autocomplete="new-password"
              minLength={8}
              required
              aria-describedby={describedBy}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
            />
          )}
        </Field>
        <ErrorText error={error} />
        <button type="submit" class="primary" disabled={busy}>
          Create account
        </button>
      </form>
      <p>
        Already have an account? <a href={href.signin()}>Sign in</a>
      </p>
    </main>
  );
}
