/** What `npm start` prints once everything is up: where things are and one request to try. */
export interface Summary {
  gatewayUrl: string;
  /** The operator's one-time dashboard sign-in link; null when the gateway would not make one. */
  signInLink: string | null;
  demoKey: string;
  adminTokenSource: string;
  /** Null with `--no-agent`. */
  agentUrl: string | null;
  logDir: string;
  chatModel: string;
}

export function printSummary(summary: Summary): void {
  const body = JSON.stringify({ model: summary.chatModel, messages: [{ role: 'user', content: 'Hello!' }] });
  const lines = [
    '',
    'Switchyard is running on plain workerd. Ctrl-C stops everything.',
    '',
    `  Gateway      ${summary.gatewayUrl}   (OpenAI base URL: ${summary.gatewayUrl}/v1)`,
    `  Dashboard    ${summary.gatewayUrl}/dashboard`,
    summary.signInLink ? `  Sign in      ${summary.signInLink}   (one-time link for the operator)` : null,
    `  Demo API key ${summary.demoKey}   (tenant "demo")`,
    `  Admin token  in ${summary.adminTokenSource}`,
    summary.agentUrl
      ? `  Node agent   ${summary.agentUrl}   (node "local", simulated engines: demo tools, not real models)`
      : '  Node agent   not started (--no-agent): create a node token with POST /admin/api/node-tokens',
    `  Logs         ${summary.logDir}/`,
    '',
  ].filter((line): line is string => line !== null);
  if (summary.agentUrl) {
    lines.push(
      'Try it:',
      `  curl ${summary.gatewayUrl}/v1/chat/completions \\`,
      `    -H "Authorization: Bearer ${summary.demoKey}" \\`,
      `    -H "Content-Type: application/json" \\`,
      `    -d '${body}'`,
      '',
    );
  }
  console.log(lines.join('\n'));
}

/** Asks the gateway, as the operator, for a one-time dashboard sign-in link (like a notebook server's token URL). */
export async function mintSignInLink(gatewayUrl: string, adminToken: string): Promise<string | null> {
  try {
    const response = await fetch(`${gatewayUrl}/dashboard/sign-in-links`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminToken}` },
      signal: AbortSignal.timeout(5000),
    });
    if (response.status !== 201) return null;
    const { url } = (await response.json()) as { url?: unknown };
    return typeof url === 'string' ? url : null;
  } catch {
    return null;
  }
}
