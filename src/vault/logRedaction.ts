import { setLogRedactor } from "../core/logger.ts";
import type { Vault } from "./vault.ts";

/**
 * Feed the logger's redaction hook from the vault: every log line passes through the vault's
 * redactor (rebuilt automatically when secrets change). Call right after unlocking. The returned
 * function restores a pass-through redactor (call it before `vault.dispose()`).
 */
export function installLogRedactor(vault: Vault): () => void {
  let redactor = vault.redactor();
  const unsubscribe = vault.onChange(() => {
    redactor = vault.redactor();
  });
  setLogRedactor((text) => redactor.redact(text).text);
  return () => {
    unsubscribe();
    setLogRedactor((text) => text);
  };
}
