/**
 * The simulator's one error type. Request handlers throw it; the server turns it into the
 * `{"error":{message,type,param,code}}` body vLLM answers with (its `type` names such as
 * `BadRequestError`, and `code` set to the HTTP status).
 */
export const ERROR_TYPES = {
  400: 'BadRequestError',
  401: 'AuthenticationError',
  404: 'NotFoundError',
  413: 'BadRequestError',
  500: 'InternalServerError',
  503: 'ServiceUnavailableError',
} as const;

export type SimErrorStatus = keyof typeof ERROR_TYPES;

export interface SimErrorOptions {
  status?: SimErrorStatus;
  /** The request field at fault, as OpenAI's `param`. */
  param?: string | null;
  cause?: unknown;
}

export class SimError extends Error {
  readonly status: SimErrorStatus;
  readonly param: string | null;

  constructor(message: string, options: SimErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'SimError';
    this.status = options.status ?? 500;
    this.param = options.param ?? null;
  }

  toBody(): { error: { message: string; type: string; param: string | null; code: number } } {
    return {
      error: { message: this.message, type: ERROR_TYPES[this.status], param: this.param, code: this.status },
    };
  }
}
