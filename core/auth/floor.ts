/** Shared by signup and password reset: answers that say nothing about whether an account exists. */

/**
 * Answers that must not reveal whether an account exists take at least this
 * long either way (the real work is a few table writes and one email).
 */
export const ANSWER_FLOOR_MS = 750;

export async function withFloor<T>(ms: number, run: () => Promise<T>): Promise<T> {
  const started = Date.now();
  try {
    return await run();
  } finally {
    const elapsed = Date.now() - started;
    if (elapsed < ms) await sleep(ms - elapsed + Math.floor(Math.random() * 50));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
