/**
 * Small HTTP helpers for the auth tests: JSON requests against the test
 * runtime, optionally from a chosen loopback address so per-IP rate limits
 * of one test do not touch the others.
 */
import http from "node:http";
import { inject } from "vitest";
import { authenticator } from "otplib";
import { Mail } from "../../core/mail";

export const baseUrl = inject("baseUrl");

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; rawBody?: string; contentType?: string; from?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const payload = options.rawBody ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  if (payload !== undefined) headers["content-type"] = options.contentType ?? "application/json";
  if (options.from) return callFrom(options.from, method, path, headers, payload);
  const response = await fetch(`${baseUrl}/api/v1${path}`, { method, headers, body: payload });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: parse(text) };
}

function parse(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** The same request sent from `localAddress` (any 127.x.y.z works on Linux loopback). */
function callFrom(localAddress: string, method: string, path: string, headers: Record<string, string>, payload?: string): Promise<Reply> {
  const url = new URL(`${baseUrl}/api/v1${path}`);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, localAddress },
      (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (typeof value === "string") responseHeaders.set(name, value);
          }
          resolve({ status: response.statusCode ?? 0, headers: responseHeaders, body: parse(Buffer.concat(chunks).toString("utf8")) });
        });
      },
    );
    request.on("error", reject);
    if (payload !== undefined) request.write(payload);
    request.end();
  });
}

/** A loopback address no other test uses. */
export function uniqueLoopback(): string {
  const n = () => 1 + Math.floor(Math.random() * 250);
  return `127.${n()}.${n()}.${n()}`;
}

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
