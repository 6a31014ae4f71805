/**
 * The dashboard's shell: the session gate, navigation and the routes. Pages
 * load on demand so the first page stays small.
 */
import { useEffect, useState } from "preact/hooks";
import { ErrorBoundary, LocationProvider, Router, Route, lazy, useLocation } from "preact-iso";
import { QueryClient, QueryClientProvider } from "@tanstack/preact-query";
import { ApiError } from "./api/errors";
import { can, logout, restore, sessionState } from "./api/session";
import { api, unwrap } from "./api/client";
import { applyTheme } from "./theme";
import { Loading, useSession } from "./ui";

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      refetchOnWindowFocus: false,
      // A 4xx will not change by asking again.
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
    },
  },
});

const page = <T,>(load: () => Promise<T>, pick: (module: T) => any) => lazy(() => load().then(pick));
const auth = () => import("./pages/auth");
const datasets = () => import("./pages/datasets");
const training = () => import("./pages/training");
const models = () => import("./pages/models");
const deployments = () => import("./pages/deployments");
const fleet = () => import("./pages/fleet");
const account = () => import("./pages/account");
const admin = () => import("./pages/admin");

const Login = page(auth, (m) => m.LoginPage);
const Signup = page(auth, (m) => m.SignupPage);
const Verify = page(auth, (m) => m.VerifyPage);
const Forgot = page(auth, (m) => m.ForgotPasswordPage);
const Reset = page(auth, (m) => m.ResetPasswordPage);
const Overview = page(datasets, (m) => m.OverviewPage);
const DatasetList = page(datasets, (m) => m.DatasetListPage);
const DatasetDetail = page(datasets, (m) => m.DatasetPage);
const TrainingList = page(training, (m) => m.TrainingListPage);
const TrainingStart = page(training, (m) => m.TrainingStartPage);
const TrainingRun = page(training, (m) => m.TrainingRunPage);
const ModelList = page(models, (m) => m.ModelListPage);
const ModelDetail = page(models, (m) => m.ModelPage);
const ModelCompare = page(models, (m) => m.ComparePage);
const DeploymentList = page(deployments, (m) => m.DeploymentsPage);
const DeploymentDetail = page(deployments, (m) => m.DeploymentPage);
const Fleet = page(fleet, (m) => m.FleetPage);
const Billing = page(account, (m) => m.BillingPage);
const Profile = page(account, (m) => m.ProfilePage);
const Admin = page(admin, (m) => m.AdminPage);

const PUBLIC_PATHS = ["/login", "/signup", "/verify", "/forgot-password", "/reset-password"];

export function App() {
  useEffect(() => void restore(), []);
  return (
    <QueryClientProvider client={queryClient}>
      <LocationProvider>
        <Shell />
      </LocationProvider>
    </QueryClientProvider>
  );
}

function Shell() {
  const session = useSession();
  const location = useLocation();
  const isPublic = PUBLIC_PATHS.includes(location.path);

  useEffect(() => {
    if (session.restoring) return;
    if (!session.user && !isPublic) {
      const next = location.url === "/" ? "" : `?next=${encodeURIComponent(location.url)}`;
      location.route(`/login${next}`, true);
    }
    if (session.user && isPublic && location.path !== "/reset-password") location.route("/", true);
    if (!session.user) queryClient.clear();
  }, [session.user, session.restoring, isPublic]);

  // The theme saved in the user's preferences follows them to every device.
  useEffect(() => {
    if (!session.user) return;
    void unwrap(api.GET("/api/v1/profile/preferences"))
      .then((preferences) => ["light", "dark", "system"].includes(preferences.theme) && applyTheme(preferences.theme))
      .catch(() => undefined);
  }, [session.user?.id]);

  // Focus the new page's heading after navigation, so keyboard and screen-reader users land on it.
  useEffect(() => {
    const timer = setTimeout(() => document.getElementById("page-title")?.focus({ preventScroll: true }), 50);
    return () => clearTimeout(timer);
  }, [location.url]);

  if (session.restoring) return <Loading label="Opening Flint…" />;

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      {session.user && <NavBar />}
      <main id="main" class={session.user ? "" : "public"}>
        <ErrorBoundary>
          <Router>
            <Route path="/login" component={Login} />
            <Route path="/signup" component={Signup} />
            <Route path="/verify" component={Verify} />
            <Route path="/forgot-password" component={Forgot} />
            <Route path="/reset-password" component={Reset} />
            <Route path="/" component={session.user ? Overview : Blank} />
            <Route path="/datasets" component={DatasetList} />
            <Route path="/datasets/:id" component={DatasetDetail} />
            <Route path="/training" component={TrainingList} />
            <Route path="/training/new" component={TrainingStart} />
            <Route path="/training/:id" component={TrainingRun} />
            <Route path="/models" component={ModelList} />
            <Route path="/models/compare" component={ModelCompare} />
            <Route path="/models/:id" component={ModelDetail} />
            <Route path="/deployments" component={DeploymentList} />
            <Route path="/deployments/:id" component={DeploymentDetail} />
            <Route path="/fleet" component={Fleet} />
            <Route path="/billing" component={Billing} />
            <Route path="/profile" component={Profile} />
            <Route path="/admin" component={Admin} />
            <Route default component={NotFound} />
          </Router>
        </ErrorBoundary>
      </main>
    </>
  );
}

function Blank() {
  return null;
}

function NotFound() {
  return (
    <section class="page">
      <h1 id="page-title" tabIndex={-1}>
        Page not found
      </h1>
      <p>
        There is nothing at this address. <a href="/">Go to the overview</a>.
      </p>
    </section>
  );
}

const LINKS = [
  ["/datasets", "Datasets"],
  ["/training", "Training"],
  ["/models", "Models"],
  ["/deployments", "Deployments"],
  ["/fleet", "Fleet"],
  ["/billing", "Billing"],
] as const;

function NavBar() {
  const { user } = sessionState();
  const location = useLocation();
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [location.url]);
  const links: (readonly [string, string])[] = [...LINKS, ...(can.admin(user) ? ([["/admin", "Admin"]] as const) : [])];
  const current = (href: string) => location.path === href || location.path.startsWith(`${href}/`);
  return (
    <header class="nav">
      <a class="brand" href="/">
        Flint
      </a>
      <button type="button" class="menu" aria-expanded={open} aria-controls="nav-links" onClick={() => setOpen(!open)}>
        Menu
      </button>
      <nav id="nav-links" aria-label="Main" class={open ? "open" : ""}>
        <ul>
          {links.map(([href, label]) => (
            <li key={href}>
              <a href={href} aria-current={current(href) ? "page" : undefined}>
                {label}
              </a>
            </li>
          ))}
        </ul>
        <div class="who">
          <a href="/profile" aria-current={current("/profile") ? "page" : undefined}>
            {user?.username} <span class="muted">({user?.role})</span>
          </a>
          <button
            type="button"
            onClick={async () => {
              await logout();
              location.route("/login");
            }}
          >
            Log out
          </button>
        </div>
      </nav>
    </header>
  );
}
