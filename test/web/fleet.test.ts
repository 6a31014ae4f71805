/**
 * The Fleet page in a real browser against the real local runtime: an admin
 * creates an enrolment token in the page (shown once), a controller enrols
 * with it over HTTP and shows up pending, the admin approves it, and its
 * first heartbeat turns the overview to "1 online" live (worker.online on the
 * tenant channel, no reload) with its CPU in the workers table. Plus: axe
 * finds no serious violation, nothing overflows at 375 px, a revoked token
 * enrols no one, and a viewer of the same tenant sees the overview only.
 * And the model services: a worker's reported service in the Services table,
 * a restart whose outcome (delivered by the next heartbeat, succeeded by the
 * agent's result) arrives live on `service:<id>`, its commands and shipped
 * log in the details, and a viewer who sees the services without the buttons.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { baseUrl, call, uniqueLoopback } from "../support/http";
import { createUser, type TestUser } from "../support/users";
import { launchBrowser, openTab, screenshot, serious } from "./browser";

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

async function expectAccessible(page: Page, name: string) {
  const violations = await serious(page);
  expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}

async function logIn(page: Page, user: TestUser) {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel("Username", { exact: true }).fill(user.username);
  await page.getByLabel("Password", { exact: true }).fill(user.password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
}

/** The figure next to a label of the overview's stats ("Online" → "1"). */
function stat(page: Page, label: string) {
  return page.getByRole("region", { name: "Overview", exact: true }).locator(".stat").filter({ has: page.locator("dt", { hasText: new RegExp(`^${label}$`) }) }).locator("dd");
}

describe("the Fleet page", { timeout: 180_000 }, () => {
  let admin: TestUser;
  beforeAll(async () => {
    admin = await createUser();
  });

  it("creates a token once, sees the enrolled controller pending, approves it and its heartbeat turns it online live", async () => {
    const tab = await openTab(browser);
    const frames: string[] = [];
    let beating: ReturnType<typeof setInterval> | undefined;
    try {
      const { page } = tab;
      page.on("websocket", (socket) => socket.on("framereceived", (frame) => frames.push(String(frame.payload))));
      await logIn(page, admin);
      await page.getByRole("link", { name: "Fleet" }).first().click();
      await page.getByRole("heading", { level: 1, name: "Fleet" }).waitFor();
      await expect.poll(() => stat(page, "Online").textContent()).toBe("0");
      await page.getByText("No workers yet").waitFor();

      // An invalid figure is the API's sentence, and the form keeps what was typed.
      const create = page.getByRole("region", { name: "Create an enrolment token", exact: true });
      await create.getByLabel("Name (optional)", { exact: true }).fill("Boiler house");
      await create.getByLabel("Group (optional)", { exact: true }).fill("boilers");
      await create.getByLabel("Expires in (hours)", { exact: true }).fill("2");
      await create.getByLabel("Max uses", { exact: true }).fill("3");
      // Past the browser's own check (the field's max), so the API is what refuses it.
      await page.evaluate(`document.getElementById("token-max-uses").removeAttribute("max")`);
      await create.getByLabel("Max uses", { exact: true }).fill("20000");
      await create.getByRole("button", { name: "Create token" }).click();
      await create.getByRole("alert").waitFor();
      // The API's sentence, naming the field it refused.
      expect(await create.getByRole("alert").textContent()).toMatch(/^Request validation failed: max_uses: .*10000/);
      expect(await create.getByLabel("Name (optional)", { exact: true }).inputValue()).toBe("Boiler house");
      await create.getByLabel("Max uses", { exact: true }).fill("3");
      await create.getByRole("button", { name: "Create token" }).click();

      await expect.poll(() => page.locator(".secret").textContent()).toMatch(/^fen\./);
      const enrolmentToken = (await page.locator(".secret").textContent())!.trim();
      await create.getByText(/will not be shown again/).waitFor();
      // How to install the agent: both files from the platform, the token in a 0600 configuration, then the service.
      const install = (await create.locator("#agent-install").textContent())!;
      expect(install).toContain(`sudo curl -fsSL -o /opt/flint/flint-agent ${baseUrl}/api/v1/workers/agent/flint-agent &&`);
      expect(install).toContain("sudo chmod 0755 /opt/flint/flint-agent &&");
      expect(install).toContain(`sudo curl -fsSL -o /etc/systemd/system/flint-agent.service ${baseUrl}/api/v1/workers/agent/flint-agent.service &&`);
      expect(install).toContain("sudo install -m 0600 /dev/null /etc/flint/agent.conf &&");
      expect(install).toContain(`<<'EOF' &&\nFLINT_API=${baseUrl}/api/v1\nFLINT_ENROLMENT_TOKEN=${enrolmentToken}\nFLINT_SOURCE='cmd:<your sensor reader printing CSV rows>'\nEOF\n`);
      expect(install).toMatch(/\nsudo systemctl daemon-reload && sudo systemctl enable --now flint-agent$/);
      // What it downloads is served without signing in.
      const agent = await call("GET", "/workers/agent/flint-agent");
      expect(agent.status).toBe(200);
      expect(String(agent.body)).toMatch(/^#!\/bin\/sh\n# flint-agent/);
      const unit = await call("GET", "/workers/agent/flint-agent.service");
      expect(unit.status).toBe(200);
      expect(String(unit.body)).toContain("ExecStart=/opt/flint/flint-agent");
      // Enrolling by hand stays possible.
      const command = (await create.locator("#enrol-command").textContent())!;
      expect(command).toContain(`curl -X POST ${baseUrl}/api/v1/workers/register`);
      expect(command).toContain(`"enrolment_token":"${enrolmentToken}"`);
      expect(command).toContain(`"os_info":"'"$(uname -srm)"'"`);
      const tokens = page.getByRole("region", { name: "Enrolment tokens table", exact: true });
      await tokens.getByRole("row", { name: /Boiler house/ }).waitFor();
      expect(await tokens.getByRole("row", { name: /Boiler house/ }).textContent()).toMatch(/boilers.*0 \/ 3.*usable/);
      await screenshot(page, "fleet-token");
      await expectAccessible(page, "fleet with a new token");

      // The controller's side: enrol with the token read from the page.
      const enrolled = await call("POST", "/workers/register", { body: { enrolment_token: enrolmentToken, name: "Boiler house PLC", os_info: "Linux 6.1.0 armv7l" } });
      expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
      const { worker, credential } = enrolled.body as { worker: { id: string }; credential: string };

      // Reloading shows it (the page would also find it within its 15 s poll); the token is not shown again.
      frames.length = 0;
      await page.reload();
      await page.getByRole("heading", { level: 1, name: "Fleet" }).waitFor();
      expect(await page.locator(".secret").count()).toBe(0);
      const workers = page.getByRole("region", { name: "Workers table", exact: true });
      const row = workers.getByRole("row", { name: /Boiler house PLC/ });
      await row.waitFor();
      expect(await row.textContent()).toMatch(/armv7.*boilers.*pending.*offline.*never/);
      await expect.poll(() => stat(page, "Pending approval").textContent()).toBe("1");
      await expect.poll(() => tokens.getByRole("row", { name: /Boiler house/ }).textContent()).toMatch(/1 \/ 3/);
      await screenshot(page, "fleet-pending");
      await expectAccessible(page, "fleet with a pending worker");

      await row.getByRole("button", { name: /^Approve/ }).click();
      await page.getByRole("status").filter({ hasText: "Boiler house PLC is approved (group boilers)" }).waitFor();
      await expect.poll(() => row.textContent()).toMatch(/approved/);
      expect(await row.getByRole("button").count()).toBe(0);
      await expect.poll(() => stat(page, "Pending approval").textContent()).toBe("0");
      expect(await stat(page, "Total").textContent()).toBe("1");
      expect(await stat(page, "Online").textContent()).toBe("0");

      // The page listens on the tenant channel before the heartbeat goes out (subscribed again after the reload).
      await expect.poll(() => frames.some((frame) => frame.includes('"subscribed"') && frame.includes('"tenant"'))).toBe(true);
      const heartbeat = () =>
        call("POST", `/workers/${worker.id}/heartbeat`, { headers: { authorization: `Device ${credential}` }, body: { cpu_usage_percent: 42 } });
      const beat = await heartbeat();
      expect(beat.status, JSON.stringify(beat.body)).toBe(200);
      const sentAt = Date.now();
      // A silent worker goes offline after 8 s here: keep beating while the page is looked at.
      beating = setInterval(() => void heartbeat(), 2_000);

      // Live, no reload: well within the 15 s poll.
      await expect.poll(() => stat(page, "Online").textContent(), { timeout: 10_000, interval: 100 }).toBe("1");
      expect(Date.now() - sentAt).toBeLessThan(10_000);
      expect(frames.some((frame) => frame.includes('"worker.online"') && frame.includes(worker.id))).toBe(true);
      await expect.poll(() => row.textContent(), { timeout: 10_000 }).toMatch(/online/);
      expect(await row.textContent()).toContain("42 %");
      expect(await stat(page, "Average CPU").textContent()).toBe("42 %");
      expect(await page.getByRole("region", { name: "Groups table", exact: true }).getByRole("row", { name: /boilers/ }).textContent()).toMatch(/boilers\s*1\s*1/);
      await screenshot(page, "fleet");
      await expectAccessible(page, "fleet with an online worker");

      // Revoking (after the confirmation) stops the token from enrolling anyone else.
      page.once("dialog", (dialog) => void dialog.accept());
      await tokens.getByRole("button", { name: /^Revoke token Boiler house/ }).click();
      await expect.poll(() => tokens.getByRole("row", { name: /Boiler house/ }).textContent()).toMatch(/revoked/);
      const refused = await call("POST", "/workers/register", { body: { enrolment_token: enrolmentToken, name: "Intruder", os_info: "Linux 6.1.0 armv7l" } });
      expect(refused.status).toBe(401);

      // A phone: nothing sticks out sideways; the wide tables scroll inside their cards.
      await page.setViewportSize({ width: 375, height: 812 });
      await expect.poll(() => page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
      await screenshot(page, "fleet-phone");
      await expectAccessible(page, "fleet at 375 px");

      // No script error; the failed requests are the session check before logging in (401: no session yet) and the refused token above (400).
      expect(tab.errors.filter((error) => !/status of (401|400)/.test(error))).toEqual([]);
    } finally {
      clearInterval(beating);
      await tab.context.close();
    }
  });

  it("shows a viewer of the same tenant the overview only, without approval or token controls, at 375 px", async () => {
    const viewer = await createUser({ tenantId: admin.tenantId, role: "viewer" });
    const tab = await openTab(browser, { width: 375, height: 812 });
    try {
      const { page } = tab;
      await logIn(page, viewer);
      await page.getByRole("button", { name: "Menu" }).click();
      await page.getByRole("link", { name: "Fleet" }).click();
      await page.getByRole("heading", { level: 1, name: "Fleet" }).waitFor();
      await expect.poll(() => stat(page, "Total").textContent()).toBe("1");
      await page.getByText(/Admins of your organisation approve controllers/).waitFor();
      for (const name of [/Approve/, /Reject/, /Create token/, /Revoke/]) expect(await page.getByRole("button", { name }).count(), String(name)).toBe(0);
      for (const label of ["Name (optional)", "Expires in (hours)", "Max uses"]) expect(await page.getByLabel(label, { exact: true }).count(), label).toBe(0);
      expect(await page.getByRole("region", { name: "Workers table", exact: true }).count()).toBe(0);
      expect(await page.getByRole("region", { name: "Enrolment tokens", exact: true }).count()).toBe(0);
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
      await screenshot(page, "fleet-viewer-phone");
      await expectAccessible(page, "fleet (viewer)");
      expect(tab.errors.filter((error) => !/status of 401/.test(error))).toEqual([]);
    } finally {
      await tab.context.close();
    }
  });
  it("lists a worker's service, restarts it with the outcome live, shows its commands and log; a viewer sees it without the buttons", async () => {
    const owner = await createUser();
    const issued = await call("POST", "/admin/workers/enrolment-tokens", { token: owner.token, body: { name: "Pump house" } });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    const enrolled = await call("POST", "/workers/register", {
      from: uniqueLoopback(),
      body: { enrolment_token: issued.body.token, name: "Pump house PLC", os_info: "Linux 6.1.0 aarch64" },
    });
    expect(enrolled.status, JSON.stringify(enrolled.body)).toBe(201);
    const { worker, credential } = enrolled.body as { worker: { id: string }; credential: string };
    expect((await call("PATCH", `/admin/workers/${worker.id}/approve`, { token: owner.token, body: { is_approved: true } })).status).toBe(200);
    const serviceId = `svc_${worker.id.slice(4)}`;
    const name = "flint-model on Pump house PLC";

    // The agent's part, played by the test: heartbeats reporting the service, its commands' results, its log.
    const report = {
      status: "running",
      started_at: new Date(Date.now() - 60_000).toISOString(),
      restart_count: 0,
      cpu_percent: 12.5,
      memory_bytes: 5_000_000,
      memory_limit_bytes: 100_000_000,
      windows_scored: 42,
      alarms: 1,
      last_score: 0.5,
    };
    const heartbeat = (more: Record<string, unknown> = {}) =>
      call("POST", `/workers/${worker.id}/heartbeat`, { headers: { authorization: `Device ${credential}` }, body: { cpu_usage_percent: 10, service: report, ...more } });
    const first = await heartbeat();
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const shipped = await call("POST", `/workers/${worker.id}/logs`, {
      headers: { authorization: `Device ${credential}` },
      rawBody: "2026-12-02T10:00:00Z info flint-model started\n",
      contentType: "text/plain",
    });
    expect(shipped.status, JSON.stringify(shipped.body)).toBe(202);
    // A silent worker goes offline after 8 s here (and its open commands expire): keep beating.
    let inFlight: Promise<unknown> = Promise.resolve();
    const keepBeating = () => setInterval(() => void (inFlight = heartbeat()), 2_000);
    let beating = keepBeating();

    try {
      const tab = await openTab(browser);
      const frames: string[] = [];
      try {
        const { page } = tab;
        page.on("websocket", (socket) => socket.on("framereceived", (frame) => frames.push(String(frame.payload))));
        await logIn(page, owner);
        await page.getByRole("link", { name: "Fleet" }).first().click();
        await page.getByRole("heading", { level: 1, name: "Fleet" }).waitFor();

        const services = page.getByRole("region", { name: "Services table", exact: true });
        const row = services.getByRole("row", { name: /Pump house PLC/ });
        await row.waitFor();
        expect(await row.textContent()).toMatch(/Pump house PLC\s*running\s*healthy\s*none\s*\d+ min \d+ s\s*0\s*12\.5 %\s*4\.8 MB\s*of 95\.4 MB\s*42\s*1\s*\d/);
        const system = page.getByRole("region", { name: "System", exact: true });
        const systemStat = (label: string) => system.locator(".stat").filter({ has: page.locator("dt", { hasText: new RegExp(`^${label}$`) }) }).locator("dd");
        await expect.poll(() => systemStat("Services").textContent()).toBe("1");
        expect(await systemStat("Running").textContent()).toBe("1");
        expect(await systemStat("Stopped").textContent()).toBe("0");
        expect(await systemStat("Average CPU").textContent()).toBe("12.5 %");
        expect(await systemStat("Average memory").textContent()).toBe("5 %");
        expect(await systemStat("Health").textContent()).toMatch(/^healthy\s*0 errors, 0 warnings$/);
        // Running: Start has nothing to do; the filter finds it under Running, not under Failed.
        expect(await row.getByRole("button", { name: `Start ${name}`, exact: true }).isDisabled()).toBe(true);
        const show = page.getByRole("region", { name: "Services", exact: true }).getByLabel("Show", { exact: true });
        await show.selectOption("failed");
        await page.getByText("No service matches.").waitFor();
        await show.selectOption("running");
        await row.waitFor();

        // Restart: queued until the worker's next heartbeat carries it (the loop is paused so that is the test's own).
        await expect.poll(() => frames.some((frame) => frame.includes('"subscribed"') && frame.includes('"tenant"'))).toBe(true);
        clearInterval(beating);
        await inFlight;
        await row.getByRole("button", { name: `Restart ${name}`, exact: true }).click();
        const notice = page.getByRole("status").filter({ hasText: `Restart ${name}:` });
        await expect.poll(() => notice.textContent()).toMatch(/queued\s*waiting for Pump house PLC's next heartbeat/);
        // The page follows the service's topic from here (its snapshot covers anything before).
        await expect.poll(() => frames.some((frame) => frame.includes('"subscribed"') && frame.includes(`service:${serviceId}`))).toBe(true);
        const carried = await heartbeat();
        expect(carried.status, JSON.stringify(carried.body)).toBe(200);
        const commands = carried.body.tasks.commands as { id: string; command: string }[];
        expect(commands).toEqual([expect.objectContaining({ command: "restart" })]);
        beating = keepBeating();
        await expect.poll(() => notice.textContent(), { timeout: 10_000 }).toMatch(/delivered\s*the agent is carrying it out/);

        const done = await heartbeat({ command_results: [{ id: commands[0]!.id, state: "succeeded", result: "restarted" }] });
        expect(done.status, JSON.stringify(done.body)).toBe(200);
        const sentAt = Date.now();
        // Live, no reload: well within the 15 s poll.
        await expect.poll(() => notice.textContent(), { timeout: 10_000, interval: 100 }).toMatch(/succeeded\s*restarted\./);
        expect(Date.now() - sentAt).toBeLessThan(10_000);
        expect(frames.some((frame) => frame.includes('"command.updated"') && frame.includes('"succeeded"') && frame.includes(commands[0]!.id))).toBe(true);

        // Details: the command with its result, the log line the agent shipped.
        await row.getByRole("button", { name: `Details of ${name}`, exact: true }).click();
        const details = page.getByRole("region", { name, exact: true });
        await details.waitFor();
        const commandRow = details.getByRole("region", { name: "Commands table", exact: true }).getByRole("row", { name: /restart/ });
        await expect.poll(() => commandRow.textContent()).toMatch(/restart\s*succeeded\s*restarted\s*\S+/);
        const log = details.getByRole("region", { name: `Log of ${name}, newest first`, exact: true });
        await log.waitFor();
        expect(await log.textContent()).toContain("2026-12-02T10:00:00Z info flint-model started");
        await screenshot(page, "fleet-services");
        await expectAccessible(page, "fleet with a service and its details");

        await page.setViewportSize({ width: 375, height: 812 });
        await expect.poll(() => page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
        await screenshot(page, "fleet-services-phone");
        await expectAccessible(page, "fleet services at 375 px");
        expect(tab.errors.filter((error) => !/status of 401/.test(error))).toEqual([]);
      } finally {
        await tab.context.close();
      }

      // A viewer of the same tenant sees the service and its details, but cannot command it.
      const viewer = await createUser({ tenantId: owner.tenantId, role: "viewer" });
      const viewerTab = await openTab(browser);
      try {
        const { page } = viewerTab;
        await logIn(page, viewer);
        await page.getByRole("link", { name: "Fleet" }).first().click();
        await page.getByRole("heading", { level: 1, name: "Fleet" }).waitFor();
        const row = page.getByRole("region", { name: "Services table", exact: true }).getByRole("row", { name: /Pump house PLC/ });
        await row.waitFor();
        expect(await row.textContent()).toMatch(/running\s*healthy/);
        for (const verb of ["Start", "Stop", "Restart", "Update"]) expect(await page.getByRole("button", { name: new RegExp(`^${verb}`) }).count(), verb).toBe(0);
        await row.getByRole("button", { name: `Details of ${name}`, exact: true }).click();
        await page.getByRole("region", { name: `Log of ${name}, newest first`, exact: true }).waitFor();
        await expectAccessible(page, "fleet services (viewer)");
        expect(viewerTab.errors.filter((error) => !/status of 401/.test(error))).toEqual([]);
      } finally {
        await viewerTab.context.close();
      }
    } finally {
      clearInterval(beating);
    }
  });
});
