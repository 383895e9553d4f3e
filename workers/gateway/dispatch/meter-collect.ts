/**
 * Collects what a metered stream cost from the node's agent, once the stream is over
 * (src/protocol/node-metering.ts). Null when the agent cannot say — unreachable, or no record:
 * the caller then charges the reservation's estimate, as for any stream without a usage report.
 */
import { readCapped } from '../../../src/bytes.ts';
import { METER_PATH, MeterRecordSchema, type MeterRecord } from '../../../src/protocol/node-metering.ts';
import type { NodeLease } from './engine-leases.ts';

/** The agent waits up to 5 s for a stream's end it has not seen yet; a little more here. */
const COLLECT_TIMEOUT_MS = 6_000;
/** A record is ~100 bytes; a node sending more is not read further. */
const MAX_RECORD_BYTES = 4096;

export async function collectMeterRecord(lease: NodeLease, callId: string): Promise<MeterRecord | null> {
  try {
    const answer = await fetch(new URL(METER_PATH + callId, lease.url), {
      headers: { authorization: `Bearer ${lease.credential}` },
      signal: AbortSignal.timeout(COLLECT_TIMEOUT_MS),
      redirect: 'manual',
    });
    if (answer.status !== 200 || !answer.body) {
      await answer.body?.cancel();
      console.error(`meter record ${callId} from node ${lease.nodeId}: status ${answer.status}`);
      return null;
    }
    const { bytes, overLimit } = await readCapped(answer.body, MAX_RECORD_BYTES);
    const parsed = overLimit
      ? null
      : MeterRecordSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)) as unknown);
    if (parsed?.success) return parsed.data;
    console.error(`meter record ${callId} from node ${lease.nodeId} is malformed`);
    return null;
  } catch (err) {
    console.error(`could not collect meter record ${callId} from node ${lease.nodeId}`, err);
    return null;
  }
}
