/**
 * Metering: how metered work turns into tokens. Every plan grants
 * `tokens_per_period` tokens per billing period (plans.ts); these functions
 * are the only place that knows the exchange rates.
 *
 * - Training: 1 token per 1,000 window-epochs (windows in the training set ×
 *   epochs), and at least 1 token per epoch. A 50,000-window set trained for
 *   20 epochs costs 1,000 tokens; 200 windows for 20 epochs cost 20.
 * - Scoring (evaluation, batch inference): 1 token per 10,000 windows scored,
 *   at least 1 token per scoring request.
 *
 * Callers estimate before starting (`Billing.assertTokensAvailable(estimate)`)
 * and record what was actually done afterwards (`Billing.consumeTokens`).
 */

/** Window-epochs that one token buys in training. */
export const WINDOW_EPOCHS_PER_TOKEN = 1_000;
/** Windows that one token buys in scoring. */
export const WINDOWS_PER_SCORING_TOKEN = 10_000;

function count(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number`);
  return Math.floor(value);
}

/**
 * Tokens for training on `windows` windows for `epochs` epochs.
 * @example trainingTokens({ windows: 50_000, epochs: 20 }) // 1000
 * @throws RangeError on a negative or non-finite input (a programming error, not user input).
 */
export function trainingTokens(input: { windows: number; epochs: number }): number {
  const windows = count("windows", input.windows);
  const epochs = count("epochs", input.epochs);
  if (epochs === 0) return 0;
  return Math.max(epochs, Math.ceil((windows * epochs) / WINDOW_EPOCHS_PER_TOKEN));
}

/**
 * Tokens for scoring `windows` windows (at least 1 per request).
 * @example scoringTokens({ windows: 25_000 }) // 3
 */
export function scoringTokens(input: { windows: number }): number {
  const windows = count("windows", input.windows);
  return Math.max(1, Math.ceil(windows / WINDOWS_PER_SCORING_TOKEN));
}
