/** @jsxImportSource hono/jsx */
/**
 * One node on the nodes page: health and last heartbeat, engines with state and load (unknown
 * on a node that stopped reporting), the log tail of an engine that is not ready, GPUs; drain,
 * resume, evict.
 */
import { ConfirmForm, CsrfField, Pill, Table, Time } from '../components.tsx';
import { engineStatus, nodeStatus } from '../engine-state.ts';
import { formatMiB } from '../format.ts';
import type { NodeView } from '../types.ts';

/** The end of a failing engine's log says why it stopped; its start is the command line. */
const LOG_LINES_SHOWN = 12;

export function NodeCard({ node, now, csrf }: { node: NodeView; now: number; csrf: string }) {
  const status = nodeStatus(node);
  const troubled = node.engines.filter((e) => e.lastLogLines.length > 0 && e.state !== 'ready');
  return (
    <section class="panel" id={`node-${node.id}`}>
      <div class="node-head">
        <h2>
          {node.name} <Pill tone={status.tone}>{status.label}</Pill>
        </h2>
        <div class="buttons">
          <form method="post" action={`/dashboard/nodes/${encodeURIComponent(node.id)}/drain`}>
            <CsrfField token={csrf} />
            <input type="hidden" name="draining" value={node.draining ? 'no' : 'yes'} />
            <button type="submit" class="secondary small">
              {node.draining ? 'Resume' : 'Drain'}
            </button>
          </form>
          <ConfirmForm
            action={`/dashboard/nodes/${encodeURIComponent(node.id)}/evict`}
            csrf={csrf}
            confirm={`Evict node “${node.name}”? Its engines leave every pool now.`}
            label="Evict"
            danger
            small
          />
        </div>
      </div>
      <div class="facts">
        <span>
          Last heartbeat{' '}
          <b>
            <Time at={node.lastSeenAt} ago={now} />
          </b>
        </span>
        <span>
          Registered <Time at={node.registeredAt} />
        </span>
        <span>
          Agent <b>{node.agentVersion}</b>
        </span>
        <span>
          ID <code>{node.id}</code>
        </span>
        <span>
          URL <code>{node.url}</code>
        </span>
      </div>
      {status.label === 'unhealthy' ? (
        <p class="small muted">
          No heartbeat lately: its engines’ last reported states may be stale, so they show as unknown.
        </p>
      ) : null}
      <h3>Engines</h3>
      <Table
        empty="This node reports no engines."
        columns={[
          { label: 'Engine' },
          { label: 'Model' },
          { label: 'Kind' },
          { label: 'State' },
          { label: 'Running', num: true },
          { label: 'Waiting', num: true },
          { label: 'KV cache', num: true },
          { label: 'Slots', num: true },
          { label: 'Restarts', num: true },
        ]}
        rows={node.engines.map((engine) => {
          const state = engineStatus(node, engine);
          const load = state.label === 'unknown' ? null : engine.load;
          return [
            <code>{engine.id}</code>,
            <code>{engine.model}</code>,
            engine.kind,
            <Pill tone={state.tone}>{state.label}</Pill>,
            load ? String(load.running) : '—',
            load ? String(load.waiting) : '—',
            load ? (
              <span>
                <meter min={0} max={1} value={load.kvCacheUsage} optimum={0} high={0.9} low={0.7}></meter>{' '}
                {`${Math.round(load.kvCacheUsage * 100)} %`}
              </span>
            ) : (
              '—'
            ),
            String(engine.maxConcurrency),
            String(engine.restarts),
          ];
        })}
      />
      {troubled.map((engine) => (
        <details open>
          <summary>{`Recent log lines of ${engine.id} (${engine.state})`}</summary>
          <pre class="log">{engine.lastLogLines.slice(-LOG_LINES_SHOWN).join('\n')}</pre>
          {engine.lastLogLines.length > LOG_LINES_SHOWN ? (
            <p class="small muted">{`The last ${LOG_LINES_SHOWN} of ${engine.lastLogLines.length} lines the agent sent; the node's log has them all.`}</p>
          ) : null}
        </details>
      ))}
      {node.gpus.length > 0 ? (
        <>
          <h3>GPUs</h3>
          <Table
            empty=""
            columns={[
              { label: 'GPU' },
              { label: 'Memory' },
              { label: 'Utilization', num: true },
              { label: 'Temperature', num: true },
            ]}
            rows={node.gpus.map((gpu) => [
              `${gpu.index} · ${gpu.name}`,
              gpu.memoryUsedMiB !== null && gpu.memoryTotalMiB ? (
                <span>
                  <meter min={0} max={gpu.memoryTotalMiB} value={gpu.memoryUsedMiB}></meter>{' '}
                  {`${formatMiB(gpu.memoryUsedMiB)} / ${formatMiB(gpu.memoryTotalMiB)}`}
                </span>
              ) : (
                formatMiB(gpu.memoryUsedMiB)
              ),
              gpu.utilizationPct === null ? '—' : `${gpu.utilizationPct} %`,
              gpu.temperatureC === null ? '—' : `${gpu.temperatureC} °C`,
            ])}
          />
        </>
      ) : (
        <p class="small muted">No GPUs reported (nvidia-smi absent on this node).</p>
      )}
    </section>
  );
}
