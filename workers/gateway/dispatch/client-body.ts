/**
 * The client's side of a request body: a client that stops sending mid-body is an everyday
 * event, answered and logged in one line rather than as a crash with a stack; and a request
 * refused before its body was read has the rest of it read and dropped first, so a client still
 * uploading receives the answer instead of a broken pipe.
 */
import { ApiError } from '../../../src/openai/errors.ts';

/** Refusals drain at most this much of an unread body; past it the connection is simply closed. */
const MAX_DRAIN_BYTES = 32 * 1024 * 1024;

/** Logged in one line by `renderError`, with the request id. */
export function clientStoppedSending(cause: unknown): ApiError {
  return new ApiError(400, 'The request body ended early: the client stopped sending it.', {
    code: 'client_closed_request',
    cause,
  });
}

/** Reads and drops what is left of a request body nobody read, when it is small enough. */
export async function discardUnreadBody(request: Request): Promise<void> {
  if (!request.body || request.bodyUsed) return;
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > MAX_DRAIN_BYTES) return;
  const reader = request.body.getReader();
  let seen = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      seen += value.byteLength;
      if (seen > MAX_DRAIN_BYTES) return void (await reader.cancel());
    }
  } catch {
    // The client went away: nobody is left to answer.
  }
}
