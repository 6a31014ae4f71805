/**
 * Helpers for the auth tests: unique names, the codes and links of the local
 * mail outbox, TOTP codes, and a user signed up over HTTP the way a person is.
 */
import { authenticator } from "otplib";
import { Mail } from "../../core/mail";
import { call } from "../support/http";

export function uniqueName(prefix = "u"): string {
  return `${prefix}_${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36).slice(-4)}`;
}

/** The 6-digit code of the latest verification email to `email`. */
export async function verificationCode(email: string): Promise<string> {
  const message = await Mail.readOutbox(email);
  const code = /verification code is (\d{6})/.exec(message?.text ?? "")?.[1];
  if (!code) throw new Error(`no verification code in the outbox for ${email}`);
  return code;
}

/** The reset token of the latest reset email to `email`. */
export async function resetToken(email: string): Promise<string> {
  const message = await Mail.readOutbox(email);
  const token = /reset-password\?token=([\w-]+)/.exec(message?.text ?? "")?.[1];
  if (!token) throw new Error(`no reset link in the outbox for ${email}`);
  return token;
}

/** A TOTP code for the next 30-second step (a step not used yet, accepted within the drift window). */
export function nextTotp(secret: string, stepsAhead = 1): string {
  return authenticator.clone({ epoch: Date.now() + stepsAhead * 30_000 }).generate(secret);
}

export function currentTotp(secret: string): string {
  return authenticator.generate(secret);
}

/** Signs up, verifies through the outbox code and logs in; returns the credentials and tokens. */
export async function signupVerified(from?: string) {
  const username = uniqueName("acct");
  const email = `${username}@example.com`;
  const password = `pw-${Math.random().toString(36).slice(2)}-long`;
  const signup = await call("POST", "/auth/signup", { body: { username, email, password }, from });
  if (signup.status !== 201) throw new Error(`signup answered ${signup.status}: ${JSON.stringify(signup.body)}`);
  const verify = await call("POST", "/auth/verify-email", { body: { email, code: await verificationCode(email) }, from });
  if (verify.status !== 200) throw new Error(`verify answered ${verify.status}`);
  const login = await call("POST", "/auth/login", { body: { username, password }, from });
  if (login.status !== 200) throw new Error(`login answered ${login.status}`);
  return { username, email, password, userId: signup.body.user_id as string, token: login.body.token as string, refreshToken: login.body.refresh_token as string };
}
