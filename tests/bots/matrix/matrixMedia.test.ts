import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError, ServiceError } from "../../../src/core/errors.ts";
import { decryptAttachment, downloadMxc, makeMatrixAttachment, parseMxc } from "../../../src/bots/matrix/matrixMedia.ts";
import { encryptAttachment } from "./familyClient.ts";

/**
 * Media download against a local HTTP stand-in for the media repo (127.0.0.1), so limits can be
 * tested with lying Content-Length and chunked bodies; the Synapse path is covered end to end in
 * matrixTransport.test.ts.
 */

const TOKEN = "media-test-token";
const payload = new Uint8Array(Array.from({ length: 50_000 }, (_, i) => (i * 7) % 256));
let server: Server;
let base = "";
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    if (req.url?.endsWith("/chunked")) {
      // No Content-Length: only the streaming check can stop it.
      res.writeHead(200, { "content-type": "application/octet-stream" });
      let sent = 0;
      const tick = (): void => {
        if (sent >= 10 || res.destroyed) return void res.end();
        res.write(payload);
        sent++;
        setImmediate(tick);
      };
      tick();
      return;
    }
    if (req.url?.endsWith("/missing")) return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": String(payload.byteLength) }).end(Buffer.from(payload));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const addr = server.address();
  base = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe("matrix media", () => {
  it("downloads through the authenticated media endpoint", async () => {
    const bytes = await downloadMxc({ homeserverUrl: base, accessToken: TOKEN }, "mxc://home.example/abc123", { maxBytes: 1_000_000 });
    expect(Buffer.from(bytes).equals(Buffer.from(payload))).toBe(true);
    expect(requests.at(-1)).toBe("/_matrix/client/v1/media/download/home.example/abc123");
  });

  it("enforces maxBytes from Content-Length and while streaming", async () => {
    const access = { homeserverUrl: base, accessToken: TOKEN };
    await expect(downloadMxc(access, "mxc://home.example/abc", { maxBytes: 1000 })).rejects.toBeInstanceOf(InputError);
    const err = await downloadMxc(access, "mxc://home.example/chunked", { maxBytes: 120_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).code).toBe("ATTACHMENT_TOO_LARGE");
    expect((err as InputError).userMessage).toMatch(/smaller/);
  });

  it("refuses before downloading when the claimed size is over the limit", async () => {
    const before = requests.length;
    const att = makeMatrixAttachment({ homeserverUrl: base, accessToken: TOKEN }, { kind: "image", url: "mxc://home.example/abc", size: 10_000_000 });
    await expect(att.fetch({ maxBytes: 1_000_000 })).rejects.toThrow(/too large/);
    expect(requests.length).toBe(before);
  });

  it("reports server refusals and bad URIs clearly", async () => {
    await expect(downloadMxc({ homeserverUrl: base, accessToken: TOKEN }, "mxc://home.example/missing", { maxBytes: 10 })).rejects.toBeInstanceOf(ServiceError);
    expect(() => parseMxc("https://evil.example/x")).toThrow(InputError);
    expect(() => parseMxc("mxc://home.example/../../etc")).toThrow(InputError);
  });

  it("honours an abort signal", async () => {
    const ac = new AbortController();
    ac.abort();
    const att = makeMatrixAttachment({ homeserverUrl: base, accessToken: TOKEN }, { kind: "image", url: "mxc://home.example/abc" });
    await expect(att.fetch({ maxBytes: 1_000_000, signal: ac.signal })).rejects.toMatchObject({ code: "ABORTED" });
  });

  it("decrypts encrypted attachments and rejects tampered ciphertext", () => {
    const { ciphertext, file } = encryptAttachment(payload);
    const info = { ...file, url: "mxc://home.example/enc" };
    expect(Buffer.from(decryptAttachment(ciphertext, info)).equals(Buffer.from(payload))).toBe(true);
    const tampered = Buffer.from(ciphertext);
    tampered[10] = tampered[10]! ^ 1;
    expect(() => decryptAttachment(tampered, info)).toThrow(/checksum/);
    expect(() => decryptAttachment(ciphertext, { ...info, key: { ...info.key, alg: "A128CBC" } })).toThrow(InputError);
  });
});
