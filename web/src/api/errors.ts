/** The API's error shape `{ error, code, details }`, thrown by every call that fails. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = {},
  ) {
    super(message);
  }

  static async from(response: Response): Promise<ApiError> {
    const body = (await response.json().catch(() => undefined)) as { error?: string; code?: string; details?: unknown } | undefined;
    return new ApiError(
      response.status,
      body?.code ?? `http.${response.status}`,
      body?.error ?? `The server answered ${response.status} ${response.statusText}`.trim(),
      body?.details,
    );
  }
}

/** A readable sentence for any thrown value (network failures included). */
export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    // A validation error names each field it refused: show them, not just "Request validation failed".
    const issues = (error.details as { issues?: { path?: string; message?: string }[] } | undefined)?.issues;
    if (!Array.isArray(issues) || issues.length === 0) return error.message;
    return `${error.message}: ${issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ")}`;
  }
  if (error instanceof TypeError) return "The server could not be reached. Check your connection and try again.";
  return error instanceof Error ? error.message : String(error);
}
