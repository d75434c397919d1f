import { readBodyLimited } from "../../core/readBodyLimited.ts";
import { createDecipheriv, createHash, timingSafeEqual } from "node:crypto";
import { AbortedError, InputError, ServiceError } from "../../core/errors.ts";
import type { Attachment } from "../../core/message.ts";
import type { EncryptedFileInfo, MatrixMediaContent } from "./mapMatrixEvent.ts";

/**
 * Download (and for encrypted rooms, decrypt and verify) Matrix media through the authenticated
 * media API (`/_matrix/client/v1/media/download`, Matrix 1.11), which needs the access token.
 * Size limits are enforced twice: from `info.size` before any byte is fetched, and while
 * streaming, because `info.size` is only the sender's claim.
 */

/** How to reach the homeserver's media repository. */
export interface MediaAccess {
  homeserverUrl: string;
  accessToken: string;
  /** Injected for tests; defaults to global fetch. */
  fetchFn?: typeof fetch;
}

function tooLarge(size: number | undefined, maxBytes: number): InputError {
  const mb = (n: number): string => `${(n / 1_000_000).toFixed(1)} MB`;
  return new InputError(
    "ATTACHMENT_TOO_LARGE",
    `That file is too large (${size !== undefined ? mb(size) : "over the limit"}; the limit is ${mb(maxBytes)}). Send a smaller or lower-resolution image.`,
  );
}

/** Split `mxc://server/mediaId` into its parts; throws InputError for anything else. */
export function parseMxc(uri: string): { serverName: string; mediaId: string } {
  const m = /^mxc:\/\/([^/]+)\/([A-Za-z0-9_-]+)$/.exec(uri);
  if (!m) throw new InputError("ATTACHMENT_BAD_URI", "The attachment's address is not a valid Matrix media link; please send the file again.");
  return { serverName: m[1]!, mediaId: m[2]! };
}

/** Fetch raw media bytes, refusing to hold more than `maxBytes`. */
export async function downloadMxc(
  access: MediaAccess,
  mxc: string,
  options: { maxBytes: number; signal?: AbortSignal },
): Promise<Uint8Array> {
  const { serverName, mediaId } = parseMxc(mxc);
  const url = `${access.homeserverUrl.replace(/\/$/, "")}/_matrix/client/v1/media/download/${encodeURIComponent(serverName)}/${encodeURIComponent(mediaId)}`;
  const doFetch = access.fetchFn ?? fetch;
  let res: Response;
  try {
    res = await doFetch(url, {
      headers: { authorization: `Bearer ${access.accessToken}` },
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    if (options.signal?.aborted) throw new AbortedError({ cause: err });
    throw new ServiceError("MATRIX_MEDIA_UNREACHABLE", "Could not download the attachment from the Matrix homeserver; try again in a moment.", { cause: err });
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new ServiceError(
      "MATRIX_MEDIA_FAILED",
      `The Matrix homeserver refused the attachment download (HTTP ${res.status}); please send the file again.`,
    );
  }
  const declared = Number(res.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > options.maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(declared, options.maxBytes);
  }
  if (!res.body) return new Uint8Array(0);
  try {
    return await readBodyLimited(res.body, options.maxBytes, () => tooLarge(undefined, options.maxBytes));
  } catch (err) {
    if (options.signal?.aborted) throw new AbortedError({ cause: err });
    throw err;
  }
}

function fromUnpaddedBase64(s: string, url = false): Buffer {
  return Buffer.from(s, url ? "base64url" : "base64");
}

/**
 * Decrypt an encrypted attachment (Matrix attachment encryption v2: AES-256-CTR, key as JWK,
 * SHA-256 of the ciphertext). The hash is checked before decrypting so a corrupted or swapped
 * file is rejected rather than handed to OCR as garbage.
 */
export function decryptAttachment(ciphertext: Uint8Array, info: EncryptedFileInfo): Uint8Array {
  const bad = (why: string): InputError =>
    new InputError("ATTACHMENT_UNDECRYPTABLE", `The encrypted attachment could not be opened (${why}); please send it again.`);
  if (info.key.alg !== "A256CTR" || info.key.kty !== "oct") throw bad("unsupported encryption");
  const expected = info.hashes.sha256;
  if (!expected) throw bad("no SHA-256 hash");
  const actual = createHash("sha256").update(ciphertext).digest();
  const want = fromUnpaddedBase64(expected);
  if (want.length !== actual.length || !timingSafeEqual(want, actual)) throw bad("checksum mismatch");
  const key = fromUnpaddedBase64(info.key.k, true);
  const iv = fromUnpaddedBase64(info.iv);
  if (key.length !== 32 || iv.length !== 16) throw bad("malformed key");
  const decipher = createDecipheriv("aes-256-ctr", key, iv);
  return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
}

/** Build the lazy {@link Attachment} for media content of an event. */
export function makeMatrixAttachment(access: MediaAccess, media: MatrixMediaContent): Attachment {
  return {
    kind: media.kind,
    ...(media.mimeType !== undefined ? { mimeType: media.mimeType } : {}),
    ...(media.fileName !== undefined ? { fileName: media.fileName } : {}),
    ...(media.size !== undefined ? { size: media.size } : {}),
    async fetch({ maxBytes, signal }) {
      if (media.size !== undefined && media.size > maxBytes) throw tooLarge(media.size, maxBytes);
      if (signal?.aborted) throw new AbortedError();
      const opts = { maxBytes, ...(signal ? { signal } : {}) };
      if (media.file) return decryptAttachment(await downloadMxc(access, media.file.url, opts), media.file);
      return await downloadMxc(access, media.url ?? "", opts);
    },
  };
}
