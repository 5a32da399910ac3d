import { useState } from 'preact/hooks';
import { publicApi } from '../api';
import { ErrorText, Field, PageTitle } from '../components/common';
import { href, navigate } from '../router';
import { signInNotice, startSession } from '../session';

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/**
 * What both forms do: send the account to `path`, start the session with the tokens that come
 * back, and go to the workspaces; or show why not and let the user try again.
 */
function useAccountForm(path: string) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: Event, extra: Record<string, unknown> = {}) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const tokens = await publicApi<Tokens>(path, { email: email.trim(), password, ...extra });
      startSession(tokens, email.trim());
      navigate(href.workspaces());
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return { email, setEmail, password, setPassword, busy, error, submit };
}

function EmailField(props: { id: string; value: string; onInput: (value: string) => void }) {
  return (
    <Field id={props.id} label="Email">
      {() => (
        <input
          id={props.id}
          type="email"
          autocomplete="username"
          required
          value={props.value}
          onInput={(e) => props.onInput(e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

/** The password: the one the account has (sign in), or a new one of at least 8 characters (sign up). */
function PasswordField(props: {
  id: string;
  value: string;
  onInput: (value: string) => void;
  isNew?: boolean;
}) {
  return (
    <Field id={props.id} label="Password" hint={props.isNew ? 'At least 8 characters.' : undefined}>
      {(describedBy) => (
        <input
          id={props.id}
          type="password"
          autocomplete={props.isNew ? 'new-password' : 'current-password'}
          minLength={props.isNew ? 8 : undefined}
          required
          aria-describedby={describedBy}
          value={props.value}
          onInput={(e) => props.onInput(e.currentTarget.value)}
        />
      )}
    </Field>
  );
}

/** Sign in: email and password; the notice says why the user is here (an expired session, signing out). */
export function SignIn() {
  const form = useAccountForm('/auth/login');
  const notice = signInNotice.value;

  return (
    <main id="main" class="auth">
      <PageTitle title="Sign in">Sign in to Airtable Ops</PageTitle>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={(e) => form.submit(e)} aria-busy={form.busy}>
        <EmailField id="signin-email" value={form.email} onInput={form.setEmail} />
        <PasswordField id="signin-password" value={form.password} onInput={form.setPassword} />
        <ErrorText error={form.error} />
        <button type="submit" class="primary" disabled={form.busy}>
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
  const form = useAccountForm('/auth/register');
  const [name, setName] = useState('');

  return (
    <main id="main" class="auth">
      <PageTitle title="Create an account">Create an account</PageTitle>
      <form onSubmit={(e) => form.submit(e, name.trim() ? { name: name.trim() } : {})} aria-busy={form.busy}>
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
        <EmailField id="signup-email" value={form.email} onInput={form.setEmail} />
        <PasswordField id="signup-password" value={form.password} onInput={form.setPassword} isNew />
        <ErrorText error={form.error} />
        <button type="submit" class="primary" disabled={form.busy}>
          Create account
        </button>
      </form>
      <p>
        Already have an account? <a href={href.signin()}>Sign in</a>
      </p>
    </main>
  );
}
