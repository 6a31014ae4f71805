/** Signing up, verifying the email, logging in (with the MFA challenge), and resetting a forgotten password. */
import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, unwrap } from "../api/client";
import { completeMfa, login } from "../api/session";
import { ErrorNote, Field, Notice, Page, useAction } from "../ui";

/** Only same-site paths: `?next=https://evil.example` must not redirect off the dashboard. */
function safeNext(next: string | undefined): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

export function LoginPage() {
  const location = useLocation();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const { error, busy, submit } = useAction();
  const next = safeNext(location.query.next);

  if (mfaToken) {
    return (
      <Page title="Two-factor authentication">
        <form
          onSubmit={submit(async () => {
            await completeMfa(mfaToken, code.trim());
            location.route(next, true);
          })}
        >
          <Field id="mfa-code" label="Code from your authenticator app">
            <input id="mfa-code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
          </Field>
          <ErrorNote error={error} />
          <button class="primary" disabled={busy}>
            Verify
          </button>
          <button type="button" onClick={() => setMfaToken(null)}>
            Back to log in
          </button>
        </form>
      </Page>
    );
  }

  return (
    <Page title="Log in to Flint">
      {location.query.verified && <Notice>Your email is verified. Log in to continue.</Notice>}
      {location.query.reset && <Notice>Your password was changed. Log in with the new one.</Notice>}
      <form
        onSubmit={submit(async () => {
          const outcome = await login(username.trim(), password);
          if (outcome.kind === "mfa_required") setMfaToken(outcome.mfaToken);
          else location.route(next, true);
        })}
      >
        <Field id="login-username" label="Username">
          <input id="login-username" autoComplete="username" required value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </Field>
        <Field id="login-password" label="Password">
          <input id="login-password" type="password" autoComplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </Field>
        <ErrorNote error={error} />
        <button class="primary" disabled={busy}>
          Log in
        </button>
      </form>
      <p>
        <a href="/forgot-password">Forgot your password?</a> · New here? <a href="/signup">Create an account</a>
      </p>
    </Page>
  );
}

export function SignupPage() {
  const location = useLocation();
  const [form, setForm] = useState({ username: "", email: "", password: "" });
  const { error, busy, submit } = useAction();
  const update = (field: keyof typeof form) => (event: { currentTarget: HTMLInputElement }) => setForm({ ...form, [field]: event.currentTarget.value });
  return (
    <Page title="Create your Flint account">
      <form
        onSubmit={submit(async () => {
          await unwrap(api.POST("/api/v1/auth/signup", { body: { ...form, username: form.username.trim(), email: form.email.trim() } }));
          location.route(`/verify?email=${encodeURIComponent(form.email.trim())}`);
        })}
      >
        <Field id="signup-username" label="Username" hint="3–32 letters, digits, dots, dashes or underscores">
          <input id="signup-username" autoComplete="username" required value={form.username} onInput={update("username")} aria-describedby="signup-username-hint" />
        </Field>
        <Field id="signup-email" label="Email">
          <input id="signup-email" type="email" autoComplete="email" required value={form.email} onInput={update("email")} />
        </Field>
        <Field id="signup-password" label="Password" hint="At least 8 characters">
          <input id="signup-password" type="password" autoComplete="new-password" required value={form.password} onInput={update("password")} aria-describedby="signup-password-hint" />
        </Field>
        <ErrorNote error={error} />
        <button class="primary" disabled={busy}>
          Create account
        </button>
      </form>
      <p>
        Already have an account? <a href="/login">Log in</a>
      </p>
    </Page>
  );
}

export function VerifyPage() {
  const location = useLocation();
  const [email, setEmail] = useState(location.query.email ?? "");
  const [code, setCode] = useState("");
  const [resent, setResent] = useState(false);
  const { error, busy, submit } = useAction();
  return (
    <Page title="Verify your email">
      <p>We sent a 6-digit code to your email address. It is valid for 15 minutes.</p>
      <form
        onSubmit={submit(async () => {
          await unwrap(api.POST("/api/v1/auth/verify-email", { body: { email: email.trim(), code: code.trim() } }));
          location.route("/login?verified=1");
        })}
      >
        <Field id="verify-email" label="Email">
          <input id="verify-email" type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <Field id="verify-code" label="Verification code">
          <input id="verify-code" inputMode="numeric" autoComplete="one-time-code" required value={code} onInput={(e) => setCode(e.currentTarget.value)} />
        </Field>
        <ErrorNote error={error} />
        <button class="primary" disabled={busy}>
          Verify email
        </button>
      </form>
      <button
        type="button"
        disabled={!email}
        onClick={submit(async () => {
          await unwrap(api.POST("/api/v1/auth/resend-verification", { body: { email: email.trim() } }));
          setResent(true);
        })}
      >
        Send a new code
      </button>
      {resent && <Notice>If the address has an account waiting for verification, a new code is on its way.</Notice>}
    </Page>
  );
}

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const { error, busy, submit } = useAction();
  return (
    <Page title="Reset your password">
      <form
        onSubmit={submit(async () => {
          const answer = await unwrap(api.POST("/api/v1/auth/forgot-password", { body: { email: email.trim() } }));
          setSent(answer.message);
        })}
      >
        <Field id="forgot-email" label="Email">
          <input id="forgot-email" type="email" autoComplete="email" required value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </Field>
        <ErrorNote error={error} />
        {sent && <Notice>{sent}</Notice>}
        <button class="primary" disabled={busy}>
          Email me a reset link
        </button>
      </form>
      <p>
        <a href="/login">Back to log in</a>
      </p>
    </Page>
  );
}

export function ResetPasswordPage() {
  const location = useLocation();
  const [password, setPassword] = useState("");
  const { error, busy, submit } = useAction();
  const token = location.query.token ?? "";
  return (
    <Page title="Choose a new password">
      {!token && <Notice>Open the link from the reset email: it carries the token this page needs.</Notice>}
      <form
        onSubmit={submit(async () => {
          await unwrap(api.POST("/api/v1/auth/reset-password", { body: { token, new_password: password } }));
          location.route("/login?reset=1");
        })}
      >
        <Field id="reset-password" label="New password" hint="At least 8 characters">
          <input id="reset-password" type="password" autoComplete="new-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} aria-describedby="reset-password-hint" />
        </Field>
        <ErrorNote error={error} />
        <button class="primary" disabled={busy || !token}>
          Set new password
        </button>
      </form>
    </Page>
  );
}
