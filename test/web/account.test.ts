/**
 * The account pages in a real browser against the real local runtime:
 * turning on two-factor authentication from the QR code page and logging in
 * through the challenge, a forgotten password reset through the emailed link,
 * the dark theme chosen in the preferences, the login done with the keyboard
 * only (with a visible focus indicator), and a failed password change that
 * keeps what was typed. axe-core audits the MFA setup, forgot and reset pages.
 */
import { authenticator } from "otplib";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { currentTotp, nextTotp, resetToken } from "../auth/helpers";
import { baseUrl, call } from "../support/http";
import { createUser } from "../support/users";
import { launchBrowser, openTab, screenshot, serious, type Tab } from "./browser";

let browser: Browser;

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
});

async function withTab(run: (tab: Tab) => Promise<void>, options?: { width?: number; height?: number }) {
  const tab = await openTab(browser, options);
  try {
    await run(tab);
    expect(tab.errors.filter((error) => /Content Security Policy|Refused to|Uncaught/i.test(error))).toEqual([]);
  } finally {
    await tab.context.close();
  }
}

async function expectAccessible(page: Page, name: string) {
  const violations = await serious(page);
  expect(violations, `${name}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
}

async function fillLogin(page: Page, username: string, password: string) {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel("Username", { exact: true }).fill(username);
  await page.getByLabel("Password", { exact: true }).fill(password);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
}

async function logIn(page: Page, username: string, password: string) {
  await fillLogin(page, username, password);
  await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
}

async function openProfile(page: Page, username: string) {
  await page.getByRole("link", { name: new RegExp(username) }).click();
  await page.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
}

/** The value shown next to a label in the profile's "Account" card. */
function stat(page: Page, label: string) {
  return page.getByRole("region", { name: "Account", exact: true }).locator(".stat", { has: page.locator("dt", { hasText: label }) }).locator("dd");
}

/** A well-formed 6-digit code that no step within the drift window accepts. */
function wrongTotp(secret: string): string {
  const valid = new Set([-2, -1, 0, 1, 2].map((steps) => authenticator.clone({ epoch: Date.now() + steps * 30_000 }).generate(secret)));
  for (let n = 123456; ; n++) {
    const code = String(n).padStart(6, "0");
    if (!valid.has(code)) return code;
  }
}

/** The focused element's id, tag and computed outline, read in the page. */
async function focused(page: Page): Promise<{ id: string; tag: string; style: string; width: number; color: string }> {
  return (await page.evaluate(`(() => {
    const element = document.activeElement;
    const style = element ? getComputedStyle(element) : null;
    return {
      id: element?.id ?? "",
      tag: element?.tagName.toLowerCase() ?? "",
      style: style?.outlineStyle ?? "none",
      width: parseFloat(style?.outlineWidth ?? "0"),
      color: style?.outlineColor ?? "",
    };
  })()`)) as { id: string; tag: string; style: string; width: number; color: string };
}

describe("two-factor authentication set up in the profile", { timeout: 120_000 }, () => {
  it("shows the QR code and key, refuses a wrong code, turns MFA on with a valid one and then asks for a code at login", async () => {
    const user = await createUser();
    await withTab(async ({ page }) => {
      await logIn(page, user.username, user.password);
      await openProfile(page, user.username);
      await expect.poll(() => stat(page, "Two-factor authentication").textContent()).toBe("Off");
      // Long values (a generated username, the tenant's name) wrap inside their column instead of running over the next one.
      const overflowing = (await page.evaluate(`[...document.querySelectorAll(".stats .stat dd")]
        .filter((dd) => dd.scrollWidth > dd.clientWidth + 1)
        .map((dd) => dd.textContent)`)) as string[];
      expect(overflowing).toEqual([]);

      const card = page.getByRole("region", { name: "Two-factor authentication", exact: true });
      await card.getByRole("button", { name: "Set up two-factor authentication", exact: true }).click();
      const qr = card.getByRole("img", { name: "QR code that adds Flint to an authenticator app", exact: true });
      await qr.waitFor();
      expect(await qr.isVisible()).toBe(true);
      expect(await qr.getAttribute("src")).toMatch(/^data:image\/(png|svg\+xml|gif);base64,/);
      // The image actually decoded (a broken data: URL would have no natural size).
      await expect.poll(() => page.evaluate(`document.querySelector("img.qr")?.naturalWidth ?? 0`)).toBeGreaterThan(0);
      const secret = ((await card.locator(".secret").textContent()) ?? "").trim();
      expect(secret).toMatch(/^[A-Z2-7]{16,}$/);
      expect(await card.locator(".secret").isVisible()).toBe(true);
      await screenshot(page, "profile-mfa");
      await expectAccessible(page, "profile with the MFA setup open");

      // A wrong code: the API's sentence, and the setup (QR code, key, typed code) stays.
      const code = card.getByLabel("Code from your authenticator app", { exact: true });
      const wrong = wrongTotp(secret);
      await code.fill(wrong);
      await card.getByRole("button", { name: "Turn on two-factor authentication", exact: true }).click();
      await expect.poll(() => card.getByRole("alert").textContent()).toBe("Invalid MFA code");
      expect(await qr.isVisible()).toBe(true);
      expect(((await card.locator(".secret").textContent()) ?? "").trim()).toBe(secret);
      expect(await code.inputValue()).toBe(wrong);
      expect((await call("GET", "/auth/me", { token: user.token })).body.mfa_enabled).toBe(false);

      // The code an authenticator app would show now, from the key on the page.
      await code.fill(currentTotp(secret));
      await card.getByRole("button", { name: "Turn on two-factor authentication", exact: true }).click();
      await card.getByRole("status").filter({ hasText: "Two-factor authentication is on: each login now asks for a code." }).waitFor();
      await expect.poll(() => stat(page, "Two-factor authentication").textContent()).toBe("On");
      await card.getByRole("button", { name: "Turn off two-factor authentication", exact: true }).waitFor();
      expect(await qr.count()).toBe(0);
      const me = await call("GET", "/auth/me", { token: user.token });
      expect(me.status).toBe(200);
      expect(me.body.mfa_enabled).toBe(true);
      await screenshot(page, "profile-mfa-on");

      await page.getByRole("button", { name: "Log out", exact: true }).click();
      await page.getByRole("heading", { level: 1, name: "Log in to Flint" }).waitFor();

      // The password alone is no longer enough.
      await fillLogin(page, user.username, user.password);
      await page.getByRole("heading", { level: 1, name: "Two-factor authentication" }).waitFor();
      expect(await page.getByRole("navigation", { name: "Main" }).count()).toBe(0);
      const challenge = page.getByLabel("Code from your authenticator app", { exact: true });
      await challenge.fill(wrongTotp(secret));
      await page.getByRole("button", { name: "Verify", exact: true }).click();
      await expect.poll(() => page.getByRole("alert").textContent()).toBe("Invalid or expired MFA challenge or code");
      await page.getByRole("heading", { level: 1, name: "Two-factor authentication" }).waitFor();
      await screenshot(page, "login-mfa-challenge");

      // The code of the next step: the one used to enable MFA cannot be replayed.
      await challenge.fill(nextTotp(secret));
      await page.getByRole("button", { name: "Verify", exact: true }).click();
      await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
      await openProfile(page, user.username);
      await expect.poll(() => stat(page, "Two-factor authentication").textContent()).toBe("On");
    });
  });
});

describe("a forgotten password reset through the browser", { timeout: 120_000 }, () => {
  it("emails a reset link, sets the new password once, and only the new password logs in", async () => {
    const user = await createUser();
    const newPassword = `New-${Math.random().toString(36).slice(2)}-pass`;
    await withTab(async ({ page }) => {
      await page.goto(`${baseUrl}/login`);
      await page.getByRole("link", { name: "Forgot your password?", exact: true }).click();
      await page.getByRole("heading", { level: 1, name: "Reset your password" }).waitFor();
      expect(new URL(page.url()).pathname).toBe("/forgot-password");
      await page.getByLabel("Email", { exact: true }).fill(user.email);
      await page.getByRole("button", { name: "Email me a reset link", exact: true }).click();
      await page.getByRole("status").filter({ hasText: "If an account exists with that email, a reset link has been sent." }).waitFor();
      await screenshot(page, "forgot-password");
      await expectAccessible(page, "forgot password");

      const token = await resetToken(user.email);
      await page.goto(`${baseUrl}/reset-password?token=${token}`);
      await page.getByRole("heading", { level: 1, name: "Choose a new password" }).waitFor();
      await expectAccessible(page, "reset password");
      await page.getByLabel("New password", { exact: true }).fill(newPassword);
      await screenshot(page, "reset-password");
      await page.getByRole("button", { name: "Set new password", exact: true }).click();
      await page.getByRole("heading", { level: 1, name: "Log in to Flint" }).waitFor();
      await page.getByRole("status").filter({ hasText: "Your password was changed. Log in with the new one." }).waitFor();

      // The link works once.
      await page.goto(`${baseUrl}/reset-password?token=${token}`);
      await page.getByLabel("New password", { exact: true }).fill(`${newPassword}-again`);
      await page.getByRole("button", { name: "Set new password", exact: true }).click();
      await expect.poll(() => page.getByRole("alert").textContent()).toBe("Invalid or expired reset token");

      await fillLogin(page, user.username, user.password);
      await expect.poll(() => page.getByRole("alert").textContent()).toBe("Invalid username or password");
      expect(await page.getByRole("heading", { level: 1, name: "Log in to Flint" }).count()).toBe(1);

      await logIn(page, user.username, newPassword);
    });
  });
});

describe("the theme in the preferences", { timeout: 120_000 }, () => {
  it("turns the page dark at once, keeps it after a reload and on another device, and goes back to light", async () => {
    const user = await createUser();
    await withTab(async ({ page }) => {
      await page.emulateMedia({ colorScheme: "light" });
      await logIn(page, user.username, user.password);
      await openProfile(page, user.username);
      const background = () => page.evaluate("getComputedStyle(document.body).backgroundColor");
      expect(await background()).toBe("rgb(247, 248, 250)");

      const preferences = page.getByRole("region", { name: "Preferences", exact: true });
      const theme = preferences.getByLabel("Theme", { exact: true });
      await theme.selectOption("dark");
      // At once, before saving.
      expect(await page.evaluate("document.documentElement.dataset.theme")).toBe("dark");
      await expect.poll(background).toBe("rgb(15, 20, 26)");
      await preferences.getByRole("button", { name: "Save preferences", exact: true }).click();
      await preferences.getByRole("status").filter({ hasText: "Preferences saved." }).waitFor();
      const saved = await call("GET", "/profile", { token: user.token });
      expect(saved.status).toBe(200);
      expect(saved.body.preferences.theme).toBe("dark");
      await screenshot(page, "profile-dark");
      await expectAccessible(page, "profile (dark)");

      await page.reload();
      await page.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
      expect(await page.evaluate("document.documentElement.dataset.theme")).toBe("dark");
      expect(await background()).toBe("rgb(15, 20, 26)");
      await expect.poll(() => theme.inputValue()).toBe("dark");
    });
    // Another device (no local storage): the saved theme follows the user there.
    await withTab(async ({ page }) => {
      await page.emulateMedia({ colorScheme: "light" });
      await logIn(page, user.username, user.password);
      await expect.poll(() => page.evaluate("getComputedStyle(document.body).backgroundColor")).toBe("rgb(15, 20, 26)");
    });
    await withTab(async ({ page }) => {
      await page.emulateMedia({ colorScheme: "light" });
      await logIn(page, user.username, user.password);
      await openProfile(page, user.username);
      const background = () => page.evaluate("getComputedStyle(document.body).backgroundColor");
      const preferences = page.getByRole("region", { name: "Preferences", exact: true });
      const theme = preferences.getByLabel("Theme", { exact: true });
      await expect.poll(() => theme.inputValue()).toBe("dark");
      await theme.selectOption("light");
      await expect.poll(background).toBe("rgb(247, 248, 250)");
      expect(await page.evaluate("document.documentElement.dataset.theme")).toBe("light");
      await preferences.getByRole("button", { name: "Save preferences", exact: true }).click();
      await preferences.getByRole("status").filter({ hasText: "Preferences saved." }).waitFor();
      expect((await call("GET", "/profile", { token: user.token })).body.preferences.theme).toBe("light");
      await page.reload();
      await page.getByRole("heading", { level: 1, name: "Profile" }).waitFor();
      expect(await background()).toBe("rgb(247, 248, 250)");
      await expect.poll(() => theme.inputValue()).toBe("light");
    });
  });
});

describe("the login with the keyboard only", { timeout: 120_000 }, () => {
  it("moves focus with Tab, shows where focus is, and logs in with typing, Tab and Enter", async () => {
    const user = await createUser();
    await withTab(async ({ page }) => {
      await page.goto(`${baseUrl}/login`);
      await page.getByRole("heading", { level: 1, name: "Log in to Flint" }).waitFor();
      // Let the shell's focus-after-navigation timer (50 ms) run, so nothing moves focus meanwhile.
      await page.waitForTimeout(200);
      expect(["body", "h1"]).toContain((await focused(page)).tag);

      // The first Tab reaches the skip link (from the top of the page) or the first field (from the focused heading).
      await page.keyboard.press("Tab");
      const first = await focused(page);
      expect(first.style).not.toBe("none");
      expect(first.width).toBeGreaterThan(0);
      if (first.tag === "a") {
        expect(await page.evaluate("document.activeElement.textContent.trim()")).toBe("Skip to content");
        // Shown on screen while focused, not left off-screen.
        expect(await page.evaluate("document.activeElement.getBoundingClientRect().left")).toBeGreaterThanOrEqual(0);
        await screenshot(page, "login-keyboard-skip-link");
        await page.keyboard.press("Tab");
      }
      const username = await focused(page);
      expect(username.id).toBe("login-username");
      expect(username.style).not.toBe("none");
      expect(username.width).toBeGreaterThan(0);
      await screenshot(page, "login-keyboard-focus");

      await page.keyboard.type(user.username);
      await page.keyboard.press("Tab");
      const second = await focused(page);
      expect(second.id).toBe("login-password");
      expect(second.style).not.toBe("none");
      expect(second.width).toBeGreaterThan(0);
      await page.keyboard.type(user.password);

      // The button after the fields shows focus too.
      await page.keyboard.press("Tab");
      const button = await focused(page);
      expect(button.tag).toBe("button");
      expect(button.style).not.toBe("none");
      expect(button.width).toBeGreaterThan(0);
      await page.keyboard.press("Shift+Tab");
      expect((await focused(page)).id).toBe("login-password");

      expect(await page.getByLabel("Username", { exact: true }).inputValue()).toBe(user.username);
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { level: 1, name: "Overview" }).waitFor();
    });
  });
});

describe("a failed password change", { timeout: 120_000 }, () => {
  it("shows the API's error and keeps the typed new password, then succeeds with the right one", async () => {
    const user = await createUser();
    const newPassword = `Changed-${Math.random().toString(36).slice(2)}-pw`;
    await withTab(async ({ page }) => {
      await logIn(page, user.username, user.password);
      await openProfile(page, user.username);
      const form = page.getByRole("region", { name: "Change password", exact: true });
      await form.getByLabel("Current password", { exact: true }).fill("not-the-password-1");
      await form.getByLabel("New password", { exact: true }).fill(newPassword);
      await form.getByLabel("Repeat the new password", { exact: true }).fill(newPassword);
      await form.getByRole("button", { name: "Change password", exact: true }).click();
      await expect.poll(() => form.getByRole("alert").textContent()).toBe("The current password is not correct");
      expect(await form.getByLabel("New password", { exact: true }).inputValue()).toBe(newPassword);
      expect(await form.getByLabel("Repeat the new password", { exact: true }).inputValue()).toBe(newPassword);
      expect(await form.getByLabel("Current password", { exact: true }).inputValue()).toBe("not-the-password-1");
      await screenshot(page, "profile-password-error");

      await form.getByLabel("Current password", { exact: true }).fill(user.password);
      await form.getByRole("button", { name: "Change password", exact: true }).click();
      await form.getByRole("status").filter({ hasText: "Password changed." }).waitFor();
      expect(await form.getByRole("alert").count()).toBe(0);
      expect(await form.getByLabel("New password", { exact: true }).inputValue()).toBe("");
      expect((await call("POST", "/auth/login", { body: { username: user.username, password: newPassword } })).status).toBe(200);
      expect((await call("POST", "/auth/login", { body: { username: user.username, password: user.password } })).status).toBe(401);
    });
  });
});
