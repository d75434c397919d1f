import fc from "fast-check";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VaultError } from "../../src/core/errors.ts";
import { configureLogger } from "../../src/core/logger.ts";
import { KeyFileMasterKey } from "../../src/vault/masterKeyFile.ts";
import { expandForRequest, redactToolResult } from "../../src/vault/toolRequest.ts";
import { Vault } from "../../src/vault/vault.ts";
import { makeTempDir } from "./helpers/tempDir.ts";

configureLogger({ level: "silent" });

describe("expandForRequest", { timeout: 60_000 }, () => {
  let tmp: { dir: string; cleanup: () => void };
  let vault: Vault;
  const HA = "ha-long-lived-token-Zx81kLq0pW2mN5vB";
  const API = "api key with spaces & symbols/=?";
  beforeAll(async () => {
    tmp = makeTempDir();
    vault = await Vault.create(join(tmp.dir, "vault.json"), new KeyFileMasterKey(join(tmp.dir, "k.key")));
    await vault.add("ha_token", HA, { allowHosts: ["homeassistant.local:8123", "HA.Example.com"] });
    await vault.add("api", API, { allowHosts: ["api.example.org"] });
    await vault.add("nowhere", "value-with-no-hosts");
  });
  afterAll(() => {
    vault.dispose();
    tmp.cleanup();
  });

  it("substitutes handles in headers, body and URL for an allowed host", () => {
    const out = expandForRequest(
      {
        url: "http://HomeAssistant.local:8123/api/states?t={{secret:ha_token}}",
        method: "POST",
        headers: { Authorization: "Bearer {{secret:ha_token}}", "X-Other": "plain" },
        body: '{"token":"{{secret:ha_token}}"}',
      },
      vault,
    );
    expect(out.headers?.Authorization).toBe(`Bearer ${HA}`);
    expect(out.body).toBe(`{"token":"${HA}"}`);
    expect(out.url).toBe(`http://HomeAssistant.local:8123/api/states?t=${encodeURIComponent(HA)}`);
    const api = expandForRequest({ url: "https://api.example.org/v1?k={{secret:api}}", method: "GET" }, vault);
    expect(new URL(api.url).searchParams.get("k")).toBe(API);
  });

  it("refuses other hosts, ports, look-alikes and secrets without hosts — naming handle and host, never the value", () => {
    const bad: [string, string][] = [
      ["http://homeassistant.local:8124/api", "ha_token"],
      ["http://homeassistant.local/api", "ha_token"],
      ["https://ha.example.com.evil.net/", "ha_token"],
      ["https://evil.net/?h=ha.example.com", "ha_token"],
      ["https://sub.ha.example.com/", "ha_token"],
      ["https://api.example.org/", "nowhere"],
    ];
    for (const [url, name] of bad) {
      let err: unknown;
      try {
        expandForRequest({ url, method: "GET", headers: { Authorization: `Bearer {{secret:${name}}}` } }, vault);
      } catch (e) {
        err = e;
      }
      expect(err, url).toBeInstanceOf(VaultError);
      const msg = (err as VaultError).userMessage;
      expect((err as VaultError).code).toBe("VAULT_HOST_NOT_ALLOWED");
      expect(msg).toContain(`{{secret:${name}}}`);
      expect(msg).toContain(new URL(url).hostname);
      expect(msg).not.toContain(HA);
      expect(msg).not.toContain("value-with-no-hosts");
    }
  });

  it("refuses handles in the host part and unknown handles", () => {
    expect(() => expandForRequest({ url: "https://{{secret:ha_token}}.evil.net/", method: "GET" }, vault)).toThrow(VaultError);
    expect(() => expandForRequest({ url: "https://u:{{secret:ha_token}}@ha.example.com/", method: "GET" }, vault)).toThrow(/host name or user info/);
    expect(() => expandForRequest({ url: "https://ha.example.com/", method: "GET", body: "{{secret:missing}}" }, vault)).toThrow(/no secret named "missing"/);
  });

  it("property: the value comes out only for hosts on the allowlist", () => {
    const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
    const hostArb = fc.oneof(
      fc.constantFrom("homeassistant.local", "ha.example.com", "HA.EXAMPLE.COM", "api.example.org", "evil.net"),
      fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join(".")),
    );
    fc.assert(
      fc.property(hostArb, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }), fc.boolean(), (host, port, https) => {
        const url = `${https ? "https" : "http"}://${host}${port === undefined ? "" : `:${port}`}/x`;
        const effPort = port ?? (https ? 443 : 80);
        const h = host.toLowerCase();
        const allowed = (h === "homeassistant.local" && effPort === 8123) || h === "ha.example.com";
        let out: string | undefined;
        try {
          out = expandForRequest({ url, method: "GET", headers: { a: "{{secret:ha_token}}" } }, vault).headers?.a;
        } catch (e) {
          expect(e).toBeInstanceOf(VaultError);
        }
        expect(out === HA).toBe(allowed);
        if (!allowed) expect(out).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it("redactToolResult hides values echoed back by a service", () => {
    const res = redactToolResult(`{"echo":"${HA}","b64":"${Buffer.from(HA).toString("base64")}"}`, vault.redactor());
    expect(res.text).toBe('{"echo":"{{secret:ha_token}}","b64":"{{secret:ha_token}}"}');
    expect(res.hits).toEqual(["ha_token"]);
  });
});
