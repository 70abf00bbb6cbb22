// Errors the backend reports to its callers (dependency-free, so the Electron main process and the
// HTTP server can tell them apart without loading the backend's modules, and with them the engine).

/** What was wrong with the arguments, as OpenAI's error `code` names it. */
export type ArgumentErrorCode = 'invalid_value' | 'context_length_exceeded';

/** Bad arguments from the renderer or an HTTP client; the message names the method and field. */
export class ApiArgumentError extends Error {
  constructor(
    message: string,
    readonly code: ArgumentErrorCode = 'invalid_value',
  ) {
    super(message);
    this.name = 'ApiArgumentError';
  }
}
