/**
 * Authentication: signup with email verification, login with optional TOTP
 * MFA, sessions with short-lived ES256 access tokens and rotating opaque
 * refresh tokens, password reset and change, and MFA enrolment.
 *
 * Access tokens name their session (`sid`); a token is honoured only while
 * its session exists, so logout, password changes and user deletion take
 * effect immediately. Every auth event is written to the audit trail.
 */
export * as Auth from "./index";

export { ACCESS_TOKEN_TTL_SECONDS } from "./token";
export { SESSION_TTL_SECONDS } from "../credentials/session";
export { consume as consumeRateLimit, rateLimitHeaders, type RateLimitState } from "./ratelimit";
export * from "./caller";
export * from "./inputs";
export * from "./login";
export * from "./mfa-enrolment";
export * from "./password";
export * from "./signup";
