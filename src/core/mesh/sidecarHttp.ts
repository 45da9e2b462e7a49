// The little HTTP a sidecar speaks itself: its own error answers, and a request count that costs
// one native search per chunk (the sidecar pipes bytes; it never parses HTTP).

/** A complete HTTP/1.1 response with a JSON body that closes the connection. */
export function jsonResponse(status: number, statusText: string, body: Readonly<Record<string, unknown>>): Buffer {
  const payload = Buffer.from(`${JSON.stringify(body, null, 2)}\n`, 'utf8');
  const head =
    `HTTP/1.1 ${status} ${statusText}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\n' +
    `Content-Length: ${payload.length}\r\n` +
    'Cache-Control: no-store\r\n' +
    'Connection: close\r\n' +
    'X-Mtls-Lab-Sidecar: 1\r\n\r\n';
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

// Every HTTP/1.x request line ends in " HTTP/1.x"; response status lines start with "HTTP/1." and
// have no space before it, so the mark counts requests on the caller-to-service stream only.
const MARK = Buffer.from(' HTTP/1.', 'latin1');
const KEEP = MARK.length - 1;

function occurrences(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(MARK); i >= 0; i = buf.indexOf(MARK, i + MARK.length)) n++;
  return n;
}

/**
 * Counts HTTP/1.x requests in a byte stream by their request lines, including a line split
 * between two chunks. A body that contains " HTTP/1." counts too: good enough for a graph's
 * request rate, and it never costs a parser.
 */
export class RequestCounter {
  private tail: Buffer = Buffer.alloc(0);

  count(chunk: Buffer): number {
    let n = 0;
    if (this.tail.length > 0) {
      // Neither side alone is long enough to hold the mark, so any match here spans the boundary.
      n += occurrences(Buffer.concat([this.tail, chunk.subarray(0, KEEP)]));
    }
    n += occurrences(chunk);
    this.tail = chunk.length >= KEEP ? Buffer.from(chunk.subarray(chunk.length - KEEP)) : Buffer.concat([this.tail, chunk]).subarray(-KEEP);
    return n;
  }
}
