/**
 * The dashboard in a real browser against the real local runtime: a new user
 * signs up, verifies the emailed code, uploads a CSV (progress to 100 %),
 * sorts the preview, validates, trains with the loss chart fed live by every
 * epoch, opens the model, registers a controller and deploys to it, and logs
 * out. Plus: a viewer sees no mutating controls, another tenant's dataset is
 * "not found", and axe-core finds no serious violation on the main pages.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { head, pumpRecording } from "../../core/synthetic/recording";
import { uniqueName, verificationCode } from "../auth/helpers";
import { uploadMultipart } from "../datasets/helpers";
import { baseUrl, call } from "../support/http";
import { createUser } from "../support/users";
import { isFinal, startRun, TINY, validatedDataset, waitForRun } from "../training/helpers";
import { launchBrowser, openTab, screenshot, serious, type Tab } from "./browser";

function sensorCsv(rows: number): string {
  const data = head(pumpRecording({ seed: 7 }), rows);
  const start = Date.parse("2026-11-02T08:00:00Z");
  const lines = [["timestamp", ...data.features].join(",")];
  for (let i = 0; i < data.columns[0]!.length; i++) {
    lines.push([new Date(start + i * 1000).toISOString(), ...data.columns.map((column) => column[i]!.toFixed(5))].join(","));
  }
  return `${lines.join("\n")}\n`;
}

let browser: Browser;
const work = mkdtempSync(path.join(os.tmpdir(), "flint-web-"));

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

/** Records every value the upload progress bar shows from now on (it is gone once the dataset page opens). */
async function watchUploadProgress(page: Page): Promise<() => Promise<number[]>> {
  await page.evaluate(`window.progressSeen = [];
    new MutationObserver(() => {
      const bar = document.querySelector('progress[aria-label="Upload progress"]');
      if (bar && window.progressSeen[window.progressSeen.length - 1] !== bar.value) window.progressSeen.push(bar.value);
    }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ["value"] })`);
  return async () => (await page.evaluate("window.progressSeen")) as number[];
}

async function logIn(page: Page, username: string, password: string) {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel("Username", { exact: true }).fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
}

describe("a new user's first hour in the dashboard", { timeout: 240_000 }, () => {
  let tab: Tab;
  const username = uniqueName("web");
  const email = `${username}@test.flint.local`;
  const password = "Dashboard-pass-1";

  beforeAll(async () => {
    tab = await openTab(browser);
  });
  afterAll(async () => {
    await tab?.context.close();
  });

  it("signs up, verifies the emailed code and logs in", async () => {
    const { page } = tab;
    await page.goto(`${baseUrl}/`);
    await page.getByRole("heading", { name: "Log in to Flint" }).waitFor();
    await expectAccessible(page, "login");
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Username", { exact: true }).fill(username);
    await page.getByLabel("Email", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("heading", { name: "Verify your email" }).waitFor();
    expect(await page.getByLabel("Email", { exact: true }).inputValue()).toBe(email);

    await page.getByLabel("Verification code", { exact: true }).fill("000000");
    await page.getByRole("button", { name: "Verify email" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/code/i);
    // A failed request keeps what was typed.
    expect(await page.getByLabel("Email", { exact: true }).inputValue()).toBe(email);

    await page.getByLabel("Verification code", { exact: true }).fill(await verificationCode(email));
    await page.getByRole("button", { name: "Verify email" }).click();
    await page.getByText("Your email is verified").waitFor();
    await page.getByLabel("Username", { exact: true }).fill(username);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    await screenshot(page, "overview");

    // The session survives a reload through the httpOnly refresh cookie; no token is kept in storage.
    await page.reload();
    await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    const stored = (await page.evaluate("JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie")) as string;
    expect(stored).not.toMatch(/eyJ|ses_/);
  });

  let datasetUrl = "";

  it("uploads a CSV with the progress bar reaching 100 %, previews it sorted and validates it", async () => {
    const { page } = tab;
    const file = path.join(work, "pump-bench.csv");
    writeFileSync(file, sensorCsv(600));
    await page.getByRole("link", { name: "Datasets" }).first().click();
    await page.getByRole("heading", { level: 1, name: "Datasets" }).waitFor();
    await expectAccessible(page, "datasets");
    await page.getByLabel("CSV file", { exact: true }).setInputFiles(file);
    await page.getByLabel("Name", { exact: true }).fill("Pump bench");
    await page.getByLabel("Equipment type", { exact: true }).selectOption("pump");
    const progress = await watchUploadProgress(page);
    await page.getByRole("button", { name: "Upload" }).click();
    await page.getByRole("heading", { level: 1, name: "Pump bench" }).waitFor();
    expect((await progress()).at(-1)).toBe(100);
    datasetUrl = page.url();
    expect(datasetUrl).toMatch(/\/datasets\/ds_/);
    await page.getByRole("table", { name: "Dataset rows" }).waitFor({ timeout: 60_000 });
    await expect.poll(() => page.getByText("600 rows · page 1 of 12").count()).toBe(1);

    // Sorting is done by the server over every row, not just the page shown.
    const firstSensor = (await page.getByRole("table", { name: "Dataset rows" }).locator("thead th").nth(1).textContent())!.trim();
    await page.getByRole("button", { name: firstSensor, exact: true }).click();
    await page.getByRole("button", { name: firstSensor, exact: true }).click();
    await page.getByText(`sorted by ${firstSensor} (descending)`).waitFor();
    const column = await page.getByRole("table", { name: "Dataset rows" }).locator("tbody tr td:nth-child(2)").allTextContents();
    const values = column.map(Number);
    expect(values).toEqual([...values].sort((a, b) => b - a));

    await page.getByRole("button", { name: "Validate" }).click();
    await page.getByText(/^Valid: 600 rows/).waitFor();
    await page.getByText(/Validated .* and locked/).waitFor();
    await page.getByRole("link", { name: "Train this" }).first().waitFor();
    await screenshot(page, "dataset");
    await expectAccessible(page, "dataset");
  });

  let modelUrl = "";

  it("trains from the recommendation with the loss chart receiving every epoch live", async () => {
    const { page } = tab;
    await page.getByRole("link", { name: "Train this" }).first().click();
    await page.getByRole("heading", { level: 1, name: "Start training" }).waitFor();
    await page.getByText("Prefilled from the recommendation").waitFor();
    await expectAccessible(page, "training form");
    await page.getByLabel("Architecture", { exact: true }).selectOption("lstm_autoencoder");
    const small: Record<string, string> = { Epochs: "4", "Window length (rows)": "20", "Stride (rows)": "2", "Hidden size": "16", "Bottleneck size": "8", Layers: "1", "Batch size": "32" };
    for (const [label, value] of Object.entries(small)) await page.getByLabel(label, { exact: true }).fill(value);
    await page.getByRole("button", { name: "Start training" }).click();
    await page.getByRole("heading", { level: 1, name: "Training lstm autoencoder" }).waitFor();
    await page.getByRole("link", { name: "Open the model" }).waitFor({ timeout: 120_000 });
    expect(await page.getByTestId("current-epoch").textContent()).toBe("4 of 4");
    await expect.poll(() => page.getByTestId("live-epochs").textContent()).toBe("4");
    expect(await page.locator(".chart canvas").count()).toBeGreaterThan(0);
    await screenshot(page, "training-run");
    await expectAccessible(page, "training run");

    await page.getByRole("link", { name: "Open the model" }).click();
    await page.locator("h1").filter({ hasNotText: "Loading" }).waitFor();
    modelUrl = page.url();
    expect(modelUrl).toMatch(/\/models\/[a-z]+_/);
    await expect.poll(() => page.locator(".chart canvas").count(), { timeout: 30_000 }).toBeGreaterThan(1);
    await screenshot(page, "model");
    await expectAccessible(page, "model");

    // Score the same recording: every window gets a score, plotted with the threshold.
    await page.getByLabel("CSV of sensor readings", { exact: true }).setInputFiles(path.join(work, "pump-bench.csv"));
    await page.getByRole("button", { name: "Score", exact: true }).click();
    const result = page.getByRole("region", { name: "Scoring result" });
    await result.getByText(/of 581 windows flagged as anomalous/).waitFor({ timeout: 60_000 });
    expect(await result.locator(".chart canvas").count()).toBe(1);
  });

  it("registers a controller, shows its credential once and deploys until transferring", async () => {
    const { page } = tab;
    await page.getByRole("link", { name: "Deployments" }).first().click();
    await page.getByRole("heading", { level: 1, name: "Deployments" }).waitFor();
    await expectAccessible(page, "deployments");
    const register = page.getByRole("region", { name: "Register a controller" });
    await register.getByLabel("Name", { exact: true }).fill("Warren AHU-1");
    await register.getByLabel(/Architecture/).selectOption("armv7");
    await register.getByRole("button", { name: /Register/ }).click();
    await expect.poll(() => page.locator(".secret").textContent()).toMatch(/^fdc\./);
    await page.getByText(/not be shown again/i).waitFor();

    const deploy = page.getByRole("region", { name: "Deploy a model" });
    await deploy.getByLabel("Model", { exact: true }).selectOption({ index: 1 });
    const controller = deploy.getByLabel("Controller", { exact: true });
    const option = (await controller.locator("option", { hasText: "Warren AHU-1" }).first().getAttribute("value"))!;
    await controller.selectOption(option);
    await deploy.getByRole("button", { name: /Deploy/ }).click();
    await page.waitForURL(/\/deployments\/dep_/);
    await page.locator(".steps li.current", { hasText: "transferring" }).waitFor({ timeout: 180_000 });
    await screenshot(page, "deployment");
    await expectAccessible(page, "deployment");
  });

  it("shows billing and the profile, then logs out", async () => {
    const { page } = tab;
    await page.getByRole("link", { name: "Billing" }).first().click();
    await page.getByRole("heading", { level: 1, name: /Billing/ }).waitFor();
    await page.getByRole("progressbar").first().waitFor();
    // No Stripe keys on this installation: a clear sentence, not a broken redirect.
    await page.getByRole("button", { name: "Upgrade to Pro" }).click();
    await page.getByRole("alert").filter({ hasText: "Payments are not set up on this installation" }).waitFor();
    expect(page.url()).toBe(`${baseUrl}/billing`);
    await screenshot(page, "billing");
    await expectAccessible(page, "billing");
    await page.getByRole("link", { name: new RegExp(username) }).click();
    await page.getByRole("heading", { level: 1 }).filter({ hasText: /Profile/ }).waitFor();
    await expectAccessible(page, "profile");

    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("heading", { name: "Log in to Flint" }).waitFor();
    await page.goto(datasetUrl);
    await page.getByRole("heading", { name: "Log in to Flint" }).waitFor();
    expect(tab.errors.filter((error) => /Content Security Policy|Refused to/i.test(error))).toEqual([]);
  });
});

/** A plain sensor log of `rows` rows (about 46 bytes each), for sizes the recording does not reach. */
function largeCsv(rows: number): string {
  const start = Date.parse("2026-10-01T00:00:00Z");
  const lines = ["timestamp,supply_air_temp,return_air_temp,fan_speed"];
  for (let i = 0; i < rows; i++) {
    const t = i / 60;
    lines.push(`${new Date(start + i * 60_000).toISOString()},${(13 + Math.sin(t)).toFixed(3)},${(22 + 0.5 * Math.cos(t)).toFixed(3)},${(60 + 10 * Math.sin(t / 3)).toFixed(2)}`);
  }
  return `${lines.join("\n")}\n`;
}

describe("administration", { timeout: 120_000 }, () => {
  it("lets a tenant admin add a user with a role, find it in the audit log and export the log as CSV", async () => {
    const admin = await createUser();
    const tab = await openTab(browser);
    try {
      const { page } = tab;
      await logIn(page, admin.username, admin.password);
      await page.getByRole("link", { name: "Admin", exact: true }).click();
      await page.getByRole("heading", { level: 1, name: "Administration" }).waitFor();
      await page.getByRole("row").filter({ hasText: `${admin.username} (you)` }).waitFor();
      await expectAccessible(page, "admin users");

      const newcomer = uniqueName("view");
      const create = page.getByRole("region", { name: "Create a user" });
      // A taken username: the API's error, and the form keeps what was typed.
      await create.getByLabel("Username", { exact: true }).fill(admin.username);
      await create.getByLabel("Email", { exact: true }).fill(`${newcomer}@test.flint.local`);
      await create.getByLabel("Password", { exact: true }).fill("Viewer-pass-123");
      await create.getByLabel("Role", { exact: true }).selectOption("viewer");
      await create.getByRole("button", { name: "Create user" }).click();
      await create.getByRole("alert").waitFor();
      expect(await create.getByLabel("Password", { exact: true }).inputValue()).toBe("Viewer-pass-123");
      await create.getByLabel("Username", { exact: true }).fill(newcomer);
      await create.getByRole("button", { name: "Create user" }).click();
      await page.getByRole("row").filter({ hasText: newcomer }).waitFor();
      const members = await call("GET", "/admin/users", { token: admin.token });
      expect(members.body.users.find((user: { username: string }) => user.username === newcomer)).toMatchObject({ role: "viewer" });

      await page.getByRole("link", { name: /Audit/ }).click();
      await page.getByLabel("Action", { exact: true }).fill("admin.user.create");
      await page.getByRole("button", { name: "Apply filters" }).click();
      await page.getByRole("region", { name: "Audit entries" }).getByText("admin.user.create").first().waitFor();
      await expectAccessible(page, "audit log");
      const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: /Export CSV/ }).click()]);
      const csv = readFileSync((await download.path())!, "utf8");
      expect(csv.split("\n")[0]).toMatch(/action/);
      expect(csv).toContain("admin.user.create");
      expect(csv).not.toContain("dataset.upload");
      await screenshot(page, "admin-audit");
    } finally {
      await tab.context.close();
    }
  });
});

describe("comparing models", { timeout: 180_000 }, () => {
  it("shows two models side by side with the better value of each metric marked, as the API ranks them", async () => {
    const owner = await createUser({ role: "operator" });
    const datasetId = await validatedDataset(owner, { faults: true });
    const runs = await Promise.all([startRun(owner, datasetId, TINY, "lstm_autoencoder"), startRun(owner, datasetId, TINY, "gru_predictor")]);
    const [a, b] = (await Promise.all(runs.map((run) => waitForRun(owner, (run.body as { id: string }).id, isFinal, 150_000)))).map((run) => run.model_id as string);
    const ranked = await call("POST", `/models/${a}/compare`, { token: owner.token, body: { compare_with: b } });
    expect(ranked.status).toBe(200);
    const winner = ranked.body.models.find((model: { id: string }) => model.id === ranked.body.winner);

    const tab = await openTab(browser);
    try {
      const { page } = tab;
      await logIn(page, owner.username, owner.password);
      await page.goto(`${baseUrl}/models/compare?a=${a}&b=${b}`);
      const table = page.getByRole("region", { name: "Metrics table" });
      await table.waitFor();
      expect(await table.locator("thead th").allTextContents()).toEqual(["Metric", ...ranked.body.models.map((m: { name: string; architecture: string }) => `${m.name}${m.architecture.replace(/_/g, " ")}`), "Winner's margin"]);
      await page.getByText(`Overall the better model is ${winner.name}`).waitFor();
      expect(await table.getByText("better").count()).toBeGreaterThan(0);
      await expect.poll(() => page.locator(".chart canvas").count(), { timeout: 30_000 }).toBe(2);
      await screenshot(page, "compare");
      await expectAccessible(page, "compare");
    } finally {
      await tab.context.close();
    }
  });
});

describe("large files", { timeout: 180_000 }, () => {
  it("sends a file over 8 MB straight to S3 with the presigned PUT, with progress, and ingests it", async () => {
    const owner = await createUser({ role: "operator" });
    const file = path.join(work, "ahu-year.csv");
    writeFileSync(file, largeCsv(200_000));
    expect(statSync(file).size).toBeGreaterThan(8 * 1024 * 1024);
    const tab = await openTab(browser);
    try {
      const { page } = tab;
      const puts: string[] = [];
      page.on("request", (request) => {
        if (request.method() === "PUT") puts.push(new URL(request.url()).origin);
      });
      await logIn(page, owner.username, owner.password);
      // Loopback sends 9 MB at once; at 4 MB/s the bar has time to move (throttled through the DevTools protocol).
      const cdp = await tab.context.newCDPSession(page);
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 5, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024 });
      await page.goto(`${baseUrl}/datasets`);
      await page.getByLabel("CSV file", { exact: true }).setInputFiles(file);
      await page.getByLabel("Name", { exact: true }).fill("AHU year");
      const progress = await watchUploadProgress(page);
      await page.getByRole("button", { name: "Upload" }).click();
      await page.getByRole("heading", { level: 1, name: "AHU year" }).waitFor({ timeout: 60_000 });
      // The bytes went to the S3 endpoint, not through the API, and the bar moved through them to 100 %.
      expect(puts).toEqual([new URL(inject("runtimeEnv").FLINT_S3_ENDPOINT!).origin]);
      const seen = await progress();
      expect(seen.at(-1)).toBe(100);
      expect(seen.some((value) => value > 0 && value < 100), JSON.stringify(seen)).toBe(true);
      await page.getByText("200,000 rows · page 1 of 4,000").waitFor({ timeout: 120_000 });
      // No script error; the only failed request is the session check before logging in (401: no session yet).
      expect(tab.errors.filter((error) => !/status of 401/.test(error))).toEqual([]);
    } finally {
      await tab.context.close();
    }
  });
});

describe("roles, tenants and small screens", { timeout: 120_000 }, () => {
  it("shows a viewer no mutating controls and another tenant's dataset as not found, at 375 px", async () => {
    const owner = await createUser();
    const viewer = await createUser({ tenantId: owner.tenantId, role: "viewer" });
    const stranger = await createUser();
    const upload = await uploadMultipart(owner, sensorCsv(300), { name: "Chiller log", equipment_type: "chiller" }, "chiller.csv");
    expect(upload.status).toBe(201);
    const strangers = await uploadMultipart(stranger, sensorCsv(300), { name: "Not yours", equipment_type: "boiler" }, "other.csv");
    const ownId = (upload.body as { id: string }).id;
    const otherId = (strangers.body as { id: string }).id;
    expect((await call("POST", `/datasets/${ownId}/validate`, { token: owner.token })).status).toBe(200);

    const tab = await openTab(browser, { width: 375, height: 812 });
    try {
      const { page } = tab;
      await logIn(page, viewer.username, viewer.password);
      await page.goto(`${baseUrl}/datasets/${ownId}`);
      await page.getByRole("heading", { level: 1, name: "Chiller log" }).waitFor();
      await page.getByRole("table", { name: "Dataset rows" }).waitFor();
      for (const name of ["Validate", "Unlock", "Upload", "Train this", "Delete"]) {
        expect(await page.getByRole("button", { name }).count(), name).toBe(0);
        expect(await page.getByRole("link", { name }).count(), name).toBe(0);
      }
      // Nothing sticks out sideways on a phone: wide tables scroll inside their card.
      expect(await page.evaluate("document.documentElement.scrollWidth")).toBeLessThanOrEqual(375);
      await page.getByRole("button", { name: "Menu" }).click();
      await page.getByRole("link", { name: "Training" }).click();
      await page.getByRole("heading", { level: 1, name: "Training" }).waitFor();
      await page.getByText("Free slots (your plan)").waitFor();
      await page.getByText("No training runs yet").waitFor();
      expect(await page.getByRole("link", { name: "Start training" }).count()).toBe(0);
      await screenshot(page, "viewer-phone-training");

      await page.goto(`${baseUrl}/datasets/${otherId}`);
      await page.getByRole("alert").filter({ hasText: /not found/i }).waitFor();
      expect(await page.getByText("Not yours").count()).toBe(0);
      await screenshot(page, "not-found");
    } finally {
      await tab.context.close();
    }
  });

  it("renders the dark theme and the API docs offline", async () => {
    const tab = await openTab(browser);
    try {
      const { page } = tab;
      await page.emulateMedia({ colorScheme: "dark" });
      await page.goto(`${baseUrl}/login`);
      const background = await page.evaluate("getComputedStyle(document.body).backgroundColor");
      expect(background).toBe("rgb(15, 20, 26)");
      await expectAccessible(page, "login (dark)");
      await screenshot(page, "login-dark");

      await page.goto(`${baseUrl}/docs/`);
      await page.getByText("Flint API").first().waitFor({ timeout: 30_000 });
      await screenshot(page, "docs");
    } finally {
      await tab.context.close();
    }
  });
});
