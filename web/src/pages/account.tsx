/** The signed-in user's own account (details, preferences, password, MFA) and the tenant's plan, usage and payments. */
import { useEffect, useMemo, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { useQuery, useQueryClient } from "@tanstack/preact-query";
import { api, unwrap } from "../api/client";
import { ApiError } from "../api/errors";
import { can, onSessionChange, sessionState, updateUser } from "../api/session";
import { applyTheme, storedTheme } from "../theme";
import { Card, CopyButton, ErrorNote, Field, Loaded, Notice, Page, ProgressBar, Stat, Stats, fmt, useAction, useSessionUser } from "../ui";
import type { components } from "../api/schema";
import type { Theme } from "../theme";

type Schemas = components["schemas"];
type Preferences = Schemas["Preferences"];
type Subscription = Schemas["Subscription"];
type PaidTier = Schemas["CheckoutRequest"]["tier"];

const capitalise = (value: string) => value.charAt(0).toUpperCase() + value.slice(1);

// ------------------------------------------------------------------ profile

export function ProfilePage() {
  const profile = useQuery({ queryKey: ["profile"], queryFn: () => unwrap(api.GET("/api/v1/profile")) });
  return (
    <Page title="Profile">
      <Loaded query={profile}>
        {(data) => (
          <>
            <Card title="Account">
              <Stats>
                <Stat label="Username" value={data.username} />
                <Stat label="Email" value={data.email} />
                <Stat label="Role" value={data.superadmin ? `${data.role} (platform superadmin)` : data.role} />
                <Stat label="Tenant" value={data.tenant.name} />
                <Stat label="Two-factor authentication" value={data.mfa_enabled ? "On" : "Off"} />
                <Stat label="Member since" value={fmt.date(data.created_at, data.preferences.timezone)} />
              </Stats>
            </Card>
            <div class="grid">
              <PreferencesForm initial={data.preferences} />
              <PasswordForm />
              <MfaCard />
            </div>
          </>
        )}
      </Loaded>
    </Page>
  );
}

const THEMES: [Theme, string][] = [
  ["system", "Same as the system"],
  ["light", "Light"],
  ["dark", "Dark"],
];

// The API accepts any identifier; these are the architectures training offers.
const ARCHITECTURES = ["lstm_autoencoder", "gru_predictor", "sentinel", "pca", "kmeans", "iforest"] as const satisfies readonly Schemas["StartTraining"]["architecture"][];

const SWITCHES = [
  ["notifications_enabled", "Notifications"],
  ["email_notifications", "Email notifications"],
  ["training_auto_stop", "Stop training automatically"],
] as const satisfies readonly [keyof Preferences, string][];

/** Older accounts carry a theme name from before light/dark/system: this device's choice stands in for it. */
const themeOf = (value: string): Theme => (value === "light" || value === "dark" || value === "system" ? value : storedTheme());

/** Browsers without Intl.supportedValuesOf get a text field instead of the list. */
const timeZones = (): string[] | null => (typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : null);

/** The choices plus the current value, so a value outside the list is neither hidden nor lost. */
const withCurrent = (options: readonly string[], current: string) => (options.includes(current) ? options : [current, ...options]);

function PreferencesForm(props: { initial: Preferences }) {
  const queryClient = useQueryClient();
  const [form, setForm] = useState({ ...props.initial, theme: themeOf(props.initial.theme) });
  const [saved, setSaved] = useState(false);
  const { error, busy, submit } = useAction();
  // "UTC" is the API's default but not in every browser's list.
  const zones = useMemo(() => timeZones()?.concat("UTC"), []);
  const change = (patch: Partial<typeof form>) => {
    setForm({ ...form, ...patch });
    setSaved(false);
  };

  return (
    <Card title="Preferences">
      <form
        onSubmit={submit(async () => {
          const { theme, timezone, default_architecture, notifications_enabled, email_notifications, training_auto_stop } = form;
          const body = { theme, timezone: timezone.trim(), default_architecture, notifications_enabled, email_notifications, training_auto_stop };
          await unwrap(api.PUT("/api/v1/profile/preferences", { body }));
          await queryClient.invalidateQueries({ queryKey: ["profile"] });
          setSaved(true);
        })}
      >
        <Field id="pref-theme" label="Theme" hint="Changes at once; saved with the other preferences.">
          <select
            id="pref-theme"
            aria-describedby="pref-theme-hint"
            value={form.theme}
            onChange={(event) => {
              const theme = themeOf(event.currentTarget.value);
              applyTheme(theme);
              change({ theme });
            }}
          >
            {THEMES.map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </Field>
        <Field id="pref-timezone" label="Time zone">
          {zones ? (
            <select id="pref-timezone" value={form.timezone} onChange={(event) => change({ timezone: event.currentTarget.value })}>
              {[...new Set(withCurrent(zones, form.timezone))].map((zone) => (
                <option key={zone} value={zone}>
                  {zone}
                </option>
              ))}
            </select>
          ) : (
            <input id="pref-timezone" required placeholder="Europe/Berlin" value={form.timezone} onInput={(event) => change({ timezone: event.currentTarget.value })} />
          )}
        </Field>
        <Field id="pref-architecture" label="Default architecture">
          <select id="pref-architecture" value={form.default_architecture} onChange={(event) => change({ default_architecture: event.currentTarget.value })}>
            {withCurrent(ARCHITECTURES, form.default_architecture).map((architecture) => (
              <option key={architecture} value={architecture}>
                {fmt.label(architecture)}
              </option>
            ))}
          </select>
        </Field>
        {SWITCHES.map(([key, label]) => (
          <label key={key}>
            <input type="checkbox" checked={form[key]} onChange={(event) => change({ [key]: event.currentTarget.checked })} /> {label}
          </label>
        ))}
        <ErrorNote error={error} />
        {saved && <Notice>Preferences saved.</Notice>}
        <div class="actions">
          <button class="primary" disabled={busy}>
            Save preferences
          </button>
        </div>
      </form>
    </Card>
  );
}

const NO_PASSWORDS = { current: "", next: "", repeat: "" };

function PasswordForm() {
  const [form, setForm] = useState(NO_PASSWORDS);
  const [done, setDone] = useState(false);
  const { error, busy, submit } = useAction();
  const change = (field: keyof typeof form) => (event: { currentTarget: HTMLInputElement }) => {
    setForm({ ...form, [field]: event.currentTarget.value });
    setDone(false);
  };

  return (
    <Card title="Change password">
      <form
        onSubmit={submit(async () => {
          if (form.next !== form.repeat) throw new Error("The new password and its repetition differ.");
          await unwrap(api.POST("/api/v1/auth/change-password", { body: { current_password: form.current, new_password: form.next } }));
          setForm(NO_PASSWORDS);
          setDone(true);
        })}
      >
        <Field id="password-current" label="Current password">
          <input id="password-current" type="password" autoComplete="current-password" required value={form.current} onInput={change("current")} />
        </Field>
        <Field id="password-new" label="New password" hint="At least 8 characters">
          <input id="password-new" type="password" autoComplete="new-password" required minLength={8} aria-describedby="password-new-hint" value={form.next} onInput={change("next")} />
        </Field>
        <Field id="password-repeat" label="Repeat the new password">
          <input id="password-repeat" type="password" autoComplete="new-password" required value={form.repeat} onInput={change("repeat")} />
        </Field>
        <ErrorNote error={error} />
        {done && <Notice>Password changed. Your other sessions were signed out.</Notice>}
        <div class="actions">
          <button class="primary" disabled={busy}>
            Change password
          </button>
        </div>
      </form>
    </Card>
  );
}

type MfaSetup = { secret: string; qr_code: string };

function MfaCard() {
  const user = useSessionUser();
  const queryClient = useQueryClient();
  const [setup, setSetup] = useState<MfaSetup | null>(null);
  const [code, setCode] = useState("");
  const [done, setDone] = useState<string | null>(null);
  const { error, busy, run, submit } = useAction();

  // The session's user carries the MFA flag the rest of the dashboard reads.
  const reloadUser = async (message: string) => {
    updateUser(await unwrap(api.GET("/api/v1/auth/me")));
    await queryClient.invalidateQueries({ queryKey: ["profile"] });
    setSetup(null);
    setCode("");
    setDone(message);
  };

  const codeField = (
    <Field id="mfa-code" label="Code from your authenticator app">
      <input id="mfa-code" inputMode="numeric" autoComplete="one-time-code" pattern="[0-9]{6}" required value={code} onInput={(event) => setCode(event.currentTarget.value)} />
    </Field>
  );

  return (
    <Card title="Two-factor authentication">
      {done && <Notice>{done}</Notice>}
      {user?.mfa_enabled ? (
        <form onSubmit={submit(async () => {
          await unwrap(api.POST("/api/v1/mfa/disable", { body: { code: code.trim() } }));
          await reloadUser("Two-factor authentication is off.");
        })}>
          <p>Two-factor authentication is on. To turn it off, enter a current code.</p>
          {codeField}
          <ErrorNote error={error} />
          <div class="actions">
            <button class="danger" disabled={busy}>
              Turn off two-factor authentication
            </button>
          </div>
        </form>
      ) : setup ? (
        <form onSubmit={submit(async () => {
          await unwrap(api.POST("/api/v1/mfa/verify", { body: { code: code.trim() } }));
          await reloadUser("Two-factor authentication is on: each login now asks for a code.");
        })}>
          <p>Scan this QR code with your authenticator app, then enter the code it shows.</p>
          <img class="qr" src={setup.qr_code} alt="QR code that adds Flint to an authenticator app" width={200} height={200} />
          <p>Or enter this key in the app by hand:</p>
          <p class="secret">{setup.secret}</p>
          <div class="actions">
            <CopyButton text={setup.secret} label="Copy key" />
          </div>
          {codeField}
          <ErrorNote error={error} />
          <div class="actions">
            <button class="primary" disabled={busy}>
              Turn on two-factor authentication
            </button>
            <button type="button" onClick={() => setSetup(null)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <>
          <p>Protect your account with a code from an authenticator app at each login.</p>
          <ErrorNote error={error} />
          <div class="actions">
            <button
              type="button"
              class="primary"
              disabled={busy}
              onClick={() =>
                run(async () => {
                  setDone(null);
                  setSetup(await unwrap(api.POST("/api/v1/mfa/setup")));
                })
              }
            >
              Set up two-factor authentication
            </button>
          </div>
        </>
      )}
    </Card>
  );
}

// ------------------------------------------------------------------ billing

const TIER_ORDER = ["free", "pro", "enterprise"] as const satisfies readonly Subscription["tier"][];
const PAID_TIERS = ["pro", "enterprise"] as const satisfies readonly PaidTier[];

export function BillingPage() {
  const location = useLocation();
  const user = useSessionUser();
  const subscription = useQuery({ queryKey: ["billing", "subscription"], queryFn: () => unwrap(api.GET("/api/v1/billing/subscription")) });
  const usage = useQuery({ queryKey: ["billing", "usage"], queryFn: () => unwrap(api.GET("/api/v1/billing/usage")) });

  return (
    <Page title="Billing">
      {/* Stripe sends the browser back here with the outcome (see success_url and cancel_url). */}
      {location.query.checkout === "success" && <Notice>Thank you. The new plan shows here as soon as Stripe confirms the payment.</Notice>}
      {location.query.checkout === "cancelled" && <Notice>Checkout was cancelled; the plan has not changed.</Notice>}
      <Card title="Plan">
        <Loaded query={subscription}>
          {(plan) => (
            <>
              <Stats>
                <Stat label="Plan" value={capitalise(plan.tier)} />
                <Stat label="Status" value={fmt.label(plan.status)} />
                <Stat label="Period" value={`${fmt.date(plan.current_period_start)} – ${fmt.date(plan.current_period_end)}`} />
              </Stats>
              {can.admin(user) ? <Payments plan={plan} /> : <p class="muted">Only an admin of your tenant can change the plan or the payment details.</p>}
            </>
          )}
        </Loaded>
      </Card>
      <Loaded query={usage}>
        {(figures) => (
          <div class="grid">
            <Card title="Token usage">
              <ProgressBar value={figures.tokens_limit > 0 ? (figures.tokens_used / figures.tokens_limit) * 100 : 0} label="Tokens used this period" />
              <p>
                {fmt.number(figures.tokens_used)} of {fmt.number(figures.tokens_limit)} tokens used this period; {fmt.number(figures.token_balance)} left until{" "}
                {fmt.date(figures.period_end)}.
              </p>
            </Card>
            <Card title="Limits">
              <Stats>
                <Stat label="Datasets" value={fmt.number(figures.max_datasets)} />
                <Stat label="Models" value={fmt.number(figures.max_models)} />
                <Stat label="Deployments" value={fmt.number(figures.max_deployments)} />
                <Stat label="Concurrent trainings" value={fmt.number(figures.max_concurrent_trainings)} />
                <Stat label="Max dataset size" value={fmt.bytes(figures.max_dataset_size_bytes)} />
              </Stats>
            </Card>
          </div>
        )}
      </Loaded>
    </Page>
  );
}

/** Checkout for a higher tier and the Stripe portal; both are admin-only in the API. */
function Payments(props: { plan: Subscription }) {
  const { error, busy, run } = useAction();
  const { plan } = props;
  const here = `${window.location.origin}/billing`;
  // The API refuses a second checkout while a paid Stripe subscription runs, and the portal before the first one.
  const subscribed = Boolean(plan.stripe_subscription_id) && plan.tier !== "free";
  const upgrades = subscribed ? [] : PAID_TIERS.filter((tier) => TIER_ORDER.indexOf(tier) > TIER_ORDER.indexOf(plan.tier));

  const checkout = (tier: PaidTier) =>
    run(async () => {
      const body = { tier, success_url: `${here}?checkout=success`, cancel_url: `${here}?checkout=cancelled` };
      const { checkout_url } = await unwrap(api.POST("/api/v1/billing/checkout", { body }));
      window.location.assign(checkout_url);
    });
  const portal = () =>
    run(async () => {
      const { portal_url } = await unwrap(api.POST("/api/v1/billing/portal", { body: { return_url: here } }));
      window.location.assign(portal_url);
    });

  if (upgrades.length === 0 && !plan.stripe_customer_id) return null;
  return (
    <>
      <div class="actions spaced">
        {upgrades.map((tier) => (
          <button key={tier} type="button" class="primary" disabled={busy} onClick={() => checkout(tier)}>
            Upgrade to {capitalise(tier)}
          </button>
        ))}
        {plan.stripe_customer_id && (
          <button type="button" disabled={busy} onClick={portal}>
            Manage billing
          </button>
        )}
      </div>
      {subscribed && <p class="muted">Change or cancel the plan, and update payment details, under “Manage billing”.</p>}
      <PaymentError error={error} />
    </>
  );
}

function PaymentError(props: { error: unknown }) {
  if (props.error instanceof ApiError && props.error.code === "billing.not_configured") {
    return (
      <p class="error" role="alert">
        Payments are not set up on this installation. The server said: {props.error.message}
      </p>
    );
  }
  return <ErrorNote error={props.error} />;
}
