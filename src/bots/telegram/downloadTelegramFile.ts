import { readBodyLimited } from "../../core/readBodyLimited.ts";
import { AbortedError, InputError, ServiceError, isAbortError } from "../../core/errors.ts";

/** What `getFile` tells us about a file (a subset of Telegram's `File`). */
export interface TelegramFileInfo {
  file_path?: string;
  file_size?: number;
}

/** Everything {@link downloadTelegramFile} needs; the token is only ever put in the URL. */
export interface DownloadTelegramFileOptions {
  /** Bot API root, e.g. `https://api.telegram.org` or a local Bot API server. */
  apiRoot: string;
  /** Bot token value (never logged, never put in an error message). */
  token: string;
  fileId: string;
  /** Size Telegram reported with the message, if any; checked before any network call. */
  knownSize?: number;
  maxBytes: number;
  /** Calls the Bot API `getFile` method (through grammY, so retries and throttling apply). */
  getFile(fileId: string, signal?: AbortSignal): Promise<TelegramFileInfo>;
  signal?: AbortSignal;
  /** What the user is sending, for error messages ("photo", "file"). */
  noun?: string;
}

/** Human-readable byte count for messages ("3.2 MB"). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The "too large" error, the same whether we knew the size up front or found out mid-stream. */
export function fileTooLargeError(noun: string, maxBytes: number, size?: number): InputError {
  const what = size === undefined ? `That ${noun} is larger than` : `That ${noun} is ${formatBytes(size)}, more than`;
  return new InputError(
    "TELEGRAM_FILE_TOO_LARGE",
    `${what} the ${formatBytes(maxBytes)} I accept. Please send a smaller ${noun}: ` +
      `send it as a normal (compressed) photo rather than as a file, or crop it / lower its resolution first.`,
  );
}

/**
 * Download a file a user sent to the bot: refuses before any request when the size Telegram
 * reported exceeds `maxBytes`, resolves the path with `getFile`, then streams
 * `${apiRoot}/file/bot<token>/<file_path>` and aborts as soon as more than `maxBytes` arrived (the
 * reported size is a claim, not a guarantee).
 */
export async function downloadTelegramFile(options: DownloadTelegramFileOptions): Promise<Uint8Array> {
  const { maxBytes, signal } = options;
  const noun = options.noun ?? "file";
  if (options.knownSize !== undefined && options.knownSize > maxBytes) throw fileTooLargeError(noun, maxBytes, options.knownSize);
  if (signal?.aborted) throw new AbortedError({ cause: signal.reason });

  let info: TelegramFileInfo;
  try {
    info = await options.getFile(options.fileId, signal);
  } catch (err) {
    if (isAbortError(err) || signal?.aborted) throw new AbortedError({ cause: err });
    const description = (err as { description?: string }).description ?? "";
    if (/file is too big/i.test(description)) throw fileTooLargeError(noun, maxBytes);
    throw new ServiceError("TELEGRAM_GETFILE_FAILED", `Telegram would not give me that ${noun}; please send it again.`, { cause: err });
  }
  if (info.file_size !== undefined && info.file_size > maxBytes) throw fileTooLargeError(noun, maxBytes, info.file_size);
  if (!info.file_path) {
    throw new ServiceError("TELEGRAM_FILE_UNAVAILABLE", `Telegram no longer has that ${noun}; please send it again.`);
  }

  const url = `${options.apiRoot.replace(/\/+$/, "")}/file/bot${options.token}/${info.file_path.split("/").map(encodeURIComponent).join("/")}`;
  let response: Response;
  try {
    response = await fetch(url, signal ? { signal } : {});
  } catch (err) {
    if (isAbortError(err) || signal?.aborted) throw new AbortedError({ cause: err });
    // The URL carries the token: keep only the error class/code, never the message text.
    throw new ServiceError("TELEGRAM_DOWNLOAD_FAILED", `I could not download that ${noun} from Telegram; please try again.`, {
      cause: new Error(`fetch failed (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name})`),
    });
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel().catch(() => {});
    throw new ServiceError("TELEGRAM_DOWNLOAD_FAILED", `I could not download that ${noun} from Telegram (HTTP ${response.status}); please send it again.`);
  }
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body.cancel().catch(() => {});
    throw fileTooLargeError(noun, maxBytes, declared);
  }

  try {
    return await readBodyLimited(response.body, maxBytes, () => fileTooLargeError(noun, maxBytes));
  } catch (err) {
    if (err instanceof InputError) throw err;
    if (isAbortError(err) || signal?.aborted) throw new AbortedError({ cause: err });
    throw new ServiceError("TELEGRAM_DOWNLOAD_FAILED", `The download of that ${noun} broke off; please send it again.`, {
      cause: new Error(`stream failed (${(err as Error).name})`),
    });
  }
}
