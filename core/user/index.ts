/**
 * Users, their unique usernames and emails, preferences and push tokens.
 * The public module: callers read `User.create(...)`, `User.preferences(...)`.
 */
export * as User from "./index";

export * from "./entities";
export * from "./users";
export * from "./preferences";
