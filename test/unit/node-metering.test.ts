import { describe, expect, it } from 'vitest';
import {
  formatMeterRequest,
  formatUsageHeader,
  parseMeterRequest,
  parseUsageHeader,
} from '../../src/protocol/node-metering.ts';

describe('the metering headers between gateway and agent', () => {
  it('reads back what the gateway writes', () => {
    const request = {
      callId: '0b6f4c1e-9d2a-4f7e-8a51-1f2e3d4c5b6a',
      stripUsageChunk: true,
      idleMs: 120_000,
    };
    expect(formatMeterRequest(request)).toBe(`${request.callId}; strip-usage; idle-ms=120000`);
    expect(parseMeterRequest(formatMeterRequest(request))).toEqual(request);
    expect(parseMeterRequest('call-0001')).toEqual({
      callId: 'call-0001',
      stripUsageChunk: false,
      idleMs: 0,
    });
  });

  it('takes nothing it cannot read: the agent then leaves the answer unmetered', () => {
    for (const value of [
      undefined,
      '',
      'short',
      'has space inside',
      '../../etc/passwd',
      'call-0001; idle-ms=-5',
      'call-0001; idle-ms=x',
    ]) {
      expect(parseMeterRequest(value)).toBeNull();
    }
    // Parameters it does not know are ignored, so a newer gateway can add some.
    expect(parseMeterRequest('call-0001; future-thing')).toEqual({
      callId: 'call-0001',
      stripUsageChunk: false,
      idleMs: 0,
    });
  });

  it('carries usage as three counts and refuses anything else', () => {
    const usage = { promptTokens: 12, completionTokens: 30, cachedTokens: 8 };
    expect(parseUsageHeader(formatUsageHeader(usage))).toEqual(usage);
    for (const value of [null, '', '1,2', '1,2,3,4', '1,-2,3', '1,2.5,3', 'a,b,c'])
      expect(parseUsageHeader(value)).toBeNull();
  });
});
