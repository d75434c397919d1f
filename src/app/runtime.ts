import type { LoadedConfig } from "../core/config.ts";
import { VaultError } from "../core/errors.ts";
import { getLogger } from "../core/logger.ts";
import type { LlmEngine } from "../llm/engine.ts";
import { createEngine } from "./createEngine.ts";
import type { Vault } from "../vault/vault.ts";
import { installLogRedactor } from "../vault/logRedaction.ts";
import { openVaultForBot } from "./openVault.ts";
import { vaultWiring } from "./vaultFeature.ts";
import { HearthApp, type Feature, type HearthAppOptions } from "./hearthApp.ts";

const log = getLogger("app");

/** Options for {@link buildApp}. */
export interface BuildAppOptions {
  /** Show download progress for a first-run model download. */
  onDownloadProgress?: (p: { downloadedBytes: number; totalBytes: number }) => void;
  /** Use this engine instead of the configured one (tests). */
  engine?: LlmEngine;
  signal?: AbortSignal;
  /** Use this vault (tests); null = run without one; undefined = open the configured vault. */
  vault?: Vault | null;
}

/** A built Hearth and the unlocked vault it uses (undefined when running without one). */
export interface Runtime {
  app: HearthApp;
  vault: Vault | undefined;
}

/** Assemble a full Hearth: model engine, vault, features and the pipeline. */
export async function buildApp(loaded: LoadedConfig, options: BuildAppOptions = {}): Promise<Runtime> {
  const engine =
    options.engine ??
    (await createEngine({
      config: loaded.config,
      paths: loaded.paths,
      ...(options.onDownloadProgress ? { onDownloadProgress: options.onDownloadProgress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }));
  log.info({ engine: engine.description }, "model ready");
  const features: Feature[] = [];
  const lateBinders: Array<(app: HearthApp) => void> = [];
  const appOptions: HearthAppOptions = { loaded, engine, features };
  const vault = options.vault === undefined ? await openVaultForBot(loaded, log) : (options.vault ?? undefined);
  if (vault) {
    const uninstall = installLogRedactor(vault);
    const wiring = vaultWiring(vault, loaded.config);
    features.push({
      ...wiring.feature,
      dispose: async () => {
        uninstall();
        vault.dispose();
      },
    });
    appOptions.secrets = wiring.secrets;
    if (loaded.config.receipts.enabled) {
      const { openReceipts } = await import("./receiptsSetup.ts");
      const { receiptsFeature } = await import("./receiptsFeature.ts");
      // The gateway exists only once the app is built; llmAssist reaches it lazily.
      let gateway: HearthApp["model"] | undefined;
      const receipts = await openReceipts({
        config: loaded.config,
        paths: loaded.paths,
        vault,
        json: (req) => gateway!.json(req),
      });
      features.push(
        receiptsFeature({
          config: loaded.config,
          service: receipts.service,
          dispose: async () => {
            receipts.service.dispose();
            await receipts.ocr.dispose();
            receipts.ledger.dispose();
          },
        }),
      );
      lateBinders.push((app) => (gateway = app.model));
    }
    if (loaded.config.home.enabled) {
      const { homeFeature } = await import("./homeFeature.ts");
      const { expandForRequest } = await import("../vault/toolRequest.ts");
      appOptions.featureFactories = [
        ...(appOptions.featureFactories ?? []),
        ({ db, config }) => homeFeature({ config, db, authorize: async (r) => expandForRequest(r, vault) }),
      ];
    }
  } else {
    if (loaded.config.home.enabled) log.warn("Home Assistant is enabled but there is no vault for its token: set up the vault (README: How Hearth keeps secrets)");
    if (loaded.config.receipts.enabled) {
      features.push({
        name: "receipts-unavailable",
        async image() {
          throw new VaultError(
            "VAULT_REQUIRED",
            "I can't file receipts yet: their images are stored encrypted with a key from the vault, and there is no vault. Ask an admin to set one up (e.g. HEARTH_VAULT_KEY_FILE; see the README).",
          );
        },
      });
    }
  }
  const app = new HearthApp(appOptions);
  for (const bind of lateBinders) bind(app);
  return { app, vault };
}
