/** The one table from HTTP status to OpenAI error `type`, and the error body Switchyard sends. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError, errorTypeForStatus, type ErrorType } from '../../src/openai/errors.ts';

describe('errorTypeForStatus', () => {
  it.each([
    [400, 'invalid_request_error'],
    [401, 'authentication_error'],
    [403, 'permission_error'],
    [404, 'not_found_error'],
    [409, 'invalid_request_error'],
    [413, 'invalid_request_error'],
    [415, 'invalid_request_error'],
    [422, 'invalid_request_error'],
    [429, 'rate_limit_error'],
    [499, 'invalid_request_error'],
    [500, 'server_error'],
    [501, 'server_error'],
    [502, 'upstream_error'],
    [503, 'service_unavailable_error'],
    [504, 'upstream_error'],
    [507, 'server_error'],
    [599, 'server_error'],
  ] satisfies Array<[number, ErrorType]>)('%i → %s', (status, type) => {
    expect(errorTypeForStatus(status)).toBe(type);
  });

  it('sends every other 4xx to invalid_request_error and every other 5xx to server_error', () => {
    const special = new Set([401, 403, 404, 429, 502, 503, 504]);
    fc.assert(
      fc.property(
        fc.integer({ min: 400, max: 599 }).filter((s) => !special.has(s)),
        (status) => {
          expect(errorTypeForStatus(status)).toBe(status >= 500 ? 'server_error' : 'invalid_request_error');
        },
      ),
    );
  });
});

describe('ApiError', () => {
  it('renders the OpenAI error body, typed by its status, with null param and code by default', () => {
    const error = new ApiError(404, 'The model `m` does not exist.');
    expect(error.toBody()).toStrictEqual({
      error: { message: 'The model `m` does not exist.', type: 'not_found_error', param: null, code: null },
    });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('ApiError');
    expect(error.status).toBe(404);
    expect(error.headers).toEqual({});
  });

  it('carries an explicit type, param, code, headers and cause', () => {
    const cause = new Error('socket hang up');
    const error = new ApiError(429, 'Too many requests in flight for this model.', {
      type: 'service_unavailable_error',
      param: 'model',
      code: 'engines_saturated',
      headers: { 'retry-after': '1' },
      cause,
    });
    expect(error.toBody()).toStrictEqual({
      error: {
        message: 'Too many requests in flight for this model.',
        type: 'service_unavailable_error',
        param: 'model',
        code: 'engines_saturated',
      },
    });
    expect(error.status).toBe(429);
    expect(error.headers).toEqual({ 'retry-after': '1' });
    expect(error.cause).toBe(cause);
  });

  it('always has exactly the four OpenAI fields, with the type the table gives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 400, max: 599 }), fc.string(), (status, message) => {
        const body = new ApiError(status, message).toBody();
        expect(Object.keys(body)).toEqual(['error']);
        expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
        expect(body.error).toStrictEqual({
          message,
          type: errorTypeForStatus(status),
          param: null,
          code: null,
        });
        expect(JSON.parse(JSON.stringify(body))).toStrictEqual(body);
      }),
    );
  });
});
