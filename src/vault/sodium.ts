import sodiumModule from "libsodium-wrappers";

/** The initialised libsodium API (the same object libsodium-wrappers exports). */
export type Sodium = typeof sodiumModule;

/**
 * libsodium-wrappers loads a WebAssembly module asynchronously; every crypto call must wait for
 * `ready` first. Centralised here so callers cannot forget it.
 */
export async function getSodium(): Promise<Sodium> {
  await sodiumModule.ready;
  return sodiumModule;
}

/** Overwrite key material in place; tolerate already-detached buffers. */
export function wipe(sodium: Sodium, bytes: Uint8Array | undefined): void {
  if (bytes === undefined || bytes.byteLength === 0) return;
  sodium.memzero(bytes);
}
