/**
 * Read a download stream into memory, stopping as soon as it exceeds `maxBytes` (the server's
 * Content-Length can be absent or wrong, so the limit is enforced on the bytes themselves).
 * `tooLarge` builds the error thrown then; the stream is cancelled first.
 */
export async function readBodyLimited(body: ReadableStream<Uint8Array>, maxBytes: number, tooLarge: () => Error): Promise<Uint8Array> {
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
