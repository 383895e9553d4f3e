/**
 * Reads the header block of one multipart/form-data part the way the strictest and the
 * sloppiest common parsers might, so the gateway never decides a part is not `model` when an
 * engine's parser could decide it is.
 */

export interface PartHeaders {
  /** Every value the part's `Content-Disposition` could give its `name`. */
  names: string[];
  /** The part's `Content-Transfer-Encoding`, lower-cased, or null. */
  transferEncoding: string | null;
}

/** Why a header block cannot be read, in words for the client. */
export class MalformedPartHeaders extends Error {}

/**
 * `block` is the part's header lines without the blank line that ends them, CRLF-separated
 * (latin-1, one char per byte). Header names are case-insensitive; folded lines are unfolded.
 */
export function readPartHeaders(block: string): PartHeaders {
  // A bare CR or LF splits lines for some parsers and not for others.
  if (/\r(?!\n)|(?<!\r)\n/.test(block)) throw new MalformedPartHeaders('a part header has a bare CR or LF');
  const lines: string[] = [];
  for (const line of block === '' ? [] : block.split('\r\n')) {
    if (/^[ \t]/.test(line) && lines.length > 0) lines[lines.length - 1] += line;
    else lines.push(line);
  }
  const headers: PartHeaders = { names: [], transferEncoding: null };
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MalformedPartHeaders('a part header line has no name');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1);
    if (name === 'content-disposition') headers.names.push(...dispositionNames(value));
    if (name === 'content-transfer-encoding') headers.transferEncoding = value.trim().toLowerCase();
  }
  return headers;
}

/**
 * The `name` parameters of a Content-Disposition value (`form-data; name="model"`): quoted or
 * not, the parameter name in any case, a quoted value both with its backslash escapes resolved
 * and as written, and RFC 5987's `name*=utf-8''…`.
 */
export function dispositionNames(value: string): string[] {
  const names: string[] = [];
  let at = value.indexOf(';');
  if (at === -1) return names;
  at++;
  while (at < value.length) {
    let end = at;
    while (end < value.length && value[end] !== '=' && value[end] !== ';') end++;
    const key = value.slice(at, end).trim().toLowerCase();
    if (value[end] !== '=') {
      at = end + 1;
      continue;
    }
    at = end + 1;
    while (value[at] === ' ' || value[at] === '\t') at++;
    let raw: string;
    let resolved: string;
    if (value[at] === '"') {
      let close = at + 1;
      resolved = '';
      while (close < value.length && value[close] !== '"') {
        if (value[close] === '\\' && close + 1 < value.length) close++;
        resolved += value[close++];
      }
      raw = value.slice(at + 1, close);
      const next = value.indexOf(';', close);
      at = next === -1 ? value.length : next + 1;
    } else {
      const next = value.indexOf(';', at);
      const stop = next === -1 ? value.length : next;
      raw = resolved = value.slice(at, stop).trim();
      at = stop + 1;
    }
    if (key === 'name') names.push(raw, resolved);
    else if (key === 'name*') names.push(extendedValue(raw));
  }
  return names;
}

/** RFC 5987: `charset'language'percent-encoded`. */
function extendedValue(raw: string): string {
  const encoded = raw.slice(raw.indexOf("'", raw.indexOf("'") + 1) + 1);
  try {
    return decodeURIComponent(encoded);
  } catch {
    return encoded;
  }
}
