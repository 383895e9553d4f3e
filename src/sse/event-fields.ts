/** One SSE event's `data` (its data lines joined by `\n`) and `event` fields, per the SSE spec. */
export function eventFields(text: string): { data?: string; event?: string } {
  const data: string[] = [];
  let event: string | undefined;
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
  }
  return { data: data.length ? data.join('\n') : undefined, event };
}

/** Splits text holding whole SSE events into the events' texts (blank-line separated). */
export function splitEvents(text: string): string[] {
  return text.split(/\r\n\r\n|\n\n|\r\r/).filter((event) => event.trim() !== '');
}
