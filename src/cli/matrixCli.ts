import { openVault } from "../app/openVault.ts";
import { MATRIX_DEVICE_SECRET, matrixPickleKey } from "../app/matrixSetup.ts";
import type { LoadedConfig } from "../core/config.ts";
import { isInteractive } from "../core/config.ts";
import { ConfigError, ServiceError } from "../core/errors.ts";
import { promptHidden } from "../vault/promptPassword.ts";
import { readStdin } from "../vault/vaultCommands.ts";

/**
 * `hearth matrix login`: one password login; the access token and device id go to the vault so
 * the bot keeps one device (and its end-to-end keys) across restarts. The password is not kept.
 */
export async function matrixLogin(loaded: LoadedConfig, opts: { homeserver?: string; user?: string }): Promise<void> {
  const m = loaded.config.matrix;
  const homeserver = (opts.homeserver ?? m.homeserverUrl ?? "").replace(/\/+$/, "");
  const user = opts.user ?? m.userId;
  if (!homeserver || !user) throw new ConfigError("Say which account: set matrix.homeserverUrl and matrix.userId in the config, or pass --homeserver URL --user @hearth:example.org.");
  const vault = await openVault(loaded, { create: true, prompt: true });
  try {
    const password = isInteractive() ? await promptHidden(`Password for ${user}:`) : (await readStdin()).replace(/\r?\n$/, "");
    let res: Response;
    try {
      res = await fetch(`${homeserver}/_matrix/client/v3/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "m.login.password",
          identifier: { type: "m.id.user", user },
          password,
          initial_device_display_name: `${loaded.config.botName} (Hearth)`,
          ...(vault.has(MATRIX_DEVICE_SECRET) ? { device_id: vault.get(MATRIX_DEVICE_SECRET) } : {}),
        }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (err) {
      throw new ServiceError("MATRIX_UNREACHABLE", `Cannot reach the homeserver at ${homeserver}: check the URL and that it is running.`, { cause: err });
    }
    const body = (await res.json().catch(() => ({}))) as { access_token?: string; device_id?: string; errcode?: string; error?: string };
    if (!res.ok || !body.access_token || !body.device_id) {
      throw new ServiceError(
        "MATRIX_LOGIN_FAILED",
        res.status === 403 ? `The homeserver refused the login for ${user}: wrong user or password.` : `Login failed (${res.status} ${body.errcode ?? ""}): ${body.error ?? "no details"}.`,
      );
    }
    const host = new URL(homeserver).host;
    await vault.add(m.accessTokenHandle, body.access_token, { allowHosts: [host] });
    await vault.add(MATRIX_DEVICE_SECRET, body.device_id, { allowHosts: [] });
    await matrixPickleKey(vault);
    process.stdout.write(`Logged in as ${user} on device ${body.device_id}. The token is in the vault as {{secret:${m.accessTokenHandle}}}.\n`);
  } finally {
    vault.dispose();
  }
}
