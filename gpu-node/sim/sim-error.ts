/**
 * The simulator's one error type. Request handlers throw it; the server turns it into the body the
 * route's clients expect: vLLM's `{"error":{message,type,param,code}}` (its `type` names such as
 * `BadRequestError`, and `code` set to the HTTP status), or Anthropic's
 * `{"type":"error","error":{type,message}}` on the Messages routes.
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

/** Anthropic's error types by status (it answers overload with 529; the simulator keeps 503). */
const ANTHROPIC_ERROR_TYPES: Record<SimErrorStatus, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  413: 'request_too_large',
  500: 'api_error',
  503: 'overloaded_error',
};

export type ErrorStyle = 'openai' | 'anthropic';

export interface SimErrorOptions {
  status?: SimErrorStatus;
  /** The request field at fault, as OpenAI's `param`. */
  param?: string | null;
  /** Overrides the OpenAI-shape `type` (vLLM's Responses routes say `invalid_request_error`). */
  type?: string;
  cause?: unknown;
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: number };
}

export class SimError extends Error {
  readonly status: SimErrorStatus;
  readonly param: string | null;
  readonly type: string;

  constructor(message: string, options: SimErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'SimError';
    this.status = options.status ?? 500;
    this.param = options.param ?? null;
    this.type = options.type ?? ERROR_TYPES[this.status];
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.status } };
  }

  toAnthropicBody(): { type: 'error'; error: { type: string; message: string } } {
    return { type: 'error', error: { type: ANTHROPIC_ERROR_TYPES[this.status], message: this.message } };
  }

  bodyFor(style: ErrorStyle): unknown {
    return style === 'anthropic' ? this.toAnthropicBody() : this.toBody();
  }
}

/** vLLM's answer to a request for another model. */
export function unknownModel(model: string): SimError {
  return new SimError(`The model \`${model}\` does not exist.`, { status: 404, param: 'model' });
}
