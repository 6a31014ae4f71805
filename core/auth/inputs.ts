/** Inputs: what the routes document and check, with the limits core holds. */
import { z } from "zod";
import { MAX_PASSWORD_LENGTH } from "../credentials/password";
import { User } from "../user";

/** The 6-digit codes of email verification and TOTP. */
export const Code = z.string().regex(/^\d{6}$/, "code must be 6 digits");
/**
 * A username as typed to log in. Only looked up, never checked against
 * User.Username: a name that cannot exist is a wrong login (401), not bad input.
 */
export const LoginUsername = z.string().min(1).max(64);
/** A password given to prove who one is (login, password change); a new password is User.Password. */
export const PresentedPassword = z.string().min(1).max(MAX_PASSWORD_LENGTH);
/** An opaque token handed out earlier: a refresh token, an MFA challenge, a reset token. */
export const PresentedToken = z.string().min(1).max(200);

export const SignupInput = z.object({ username: User.Username, email: User.Email, password: User.Password });
export const LoginInput = z.object({ username: LoginUsername, password: PresentedPassword });
export const EmailInput = z.object({ email: User.Email });
export const VerifyEmailInput = z.object({ email: User.Email, code: Code });
export const CodeInput = z.object({ code: Code });
