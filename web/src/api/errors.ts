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

  /** From the API's error body (anything else gets a generic sentence with the status). */
  static fromBody(status: number, body: unknown, fallback = `The server answered ${status}`): ApiError {
    const known = (body ?? {}) as { error?: string; code?: string; details?: unknown };
    return new ApiError(status, known.code ?? `http.${status}`, known.error ?? fallback, known.details);
  }

  static async from(response: Response): Promise<ApiError> {
    const body = await response.json().catch(() => undefined);
    return ApiError.fromBody(response.status, body, `The server answered ${response.status} ${response.statusText}`.trim());
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
