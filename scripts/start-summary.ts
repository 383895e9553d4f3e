/** What `npm start` prints once everything is up: where things are and one request to try. */
export interface Summary {
  gatewayUrl: string;
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
    `  Demo API key ${summary.demoKey}   (tenant "demo")`,
    `  Admin token  in ${summary.adminTokenSource}`,
    summary.agentUrl
      ? `  Node agent   ${summary.agentUrl}   (node "local", simulated engines: demo tools, not real models)`
      : '  Node agent   not started (--no-agent): create a node token with POST /admin/api/node-tokens',
    `  Logs         ${summary.logDir}/`,
    '',
  ];
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
