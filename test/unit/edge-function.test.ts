/**
 * The CloudFront Function, run as deployed (edge-function.js in a vm, Node's crypto, a key-value
 * store): signatures, expiry, key rotation, the comparison, variant policy and the URI rewrite.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import {
  edgeFunctionCode,
  edgePolicy,
  EDGE_CODE_LIMIT_BYTES,
  isCfResponse,
  keyValueStore,
  loadEdgeFunction,
  signedPath,
  signingKeyEntry,
  viewerRequestEvent,
  type CfResponse,
  type EdgeFunction,
} from "../../edge/edge";
import { CloudFrontInvalidator } from "../../runtime/on-demand/purge";
import { keyHash, parseStoredPath, resolveVariant } from "../../runtime/on-demand/variants";
import { parseTenant } from "../../contract/tenant-config";
import { seededRandom } from "../../fixtures/corpus";

const tenant = parseTenant({
  name: "media",
  onDemand: {
    enabled: true,
    presets: [
      { name: "hero", width: 1200, format: "auto" },
      { name: "square", width: 512, height: 512, fit: "cover", format: "png" },
    ],
    widths: [320, 1024],
    formats: ["auto", "jpeg", "webp"],
  },
});
const OLD = "a".repeat(64);
const NEW = "b".repeat(64);
const now = () => Math.floor(Date.now() / 1000);

function edgeWith(keys: Record<string, string>): EdgeFunction {
  return loadEdgeFunction(edgePolicy(tenant), keyValueStore(Object.fromEntries(Object.entries(keys).map(([id, secret]) => [signingKeyEntry(id), secret]))));
}

async function request(edge: EdgeFunction, pathAndQuery: string, accept = "image/avif,image/webp,*/*") {
  return edge.handler(viewerRequestEvent("GET", pathAndQuery, { accept }));
}

const statusOf = (result: Awaited<ReturnType<EdgeFunction["handler"]>>) => (isCfResponse(result) ? result.statusCode : 200);
const bodyOf = (result: Awaited<ReturnType<EdgeFunction["handler"]>>) => (result as CfResponse).body?.data ?? "";

describe("signatures", () => {
  const edge = edgeWith({ k1: OLD });
  const url = (overrides: { key?: string; variant?: string; exp?: number; kid?: string; secret?: string } = {}) =>
    signedPath(
      edge,
      overrides.variant ?? "w320.webp",
      overrides.key ?? "photos/2026/a b+ü.jpg",
      overrides.exp ?? now() + 600,
      overrides.kid ?? "k1",
      overrides.secret ?? OLD,
    );

  it("accepts a valid URL and rewrites it to the stored variant's path, without the query string", async () => {
    const result = await request(edge, url());
    expect(isCfResponse(result)).toBe(false);
    if (isCfResponse(result)) return;
    expect(result.uri).toBe(`/_variants/${keyHash("photos/2026/a b+ü.jpg")}/w320.webp/photos/2026/a%20b%2B%C3%BC.jpg`);
    expect(result.querystring).toEqual({});
    expect(parseStoredPath(result.uri)).toMatchObject({ sourceKey: "photos/2026/a b+ü.jpg", concrete: "w320.webp" });
  });

  it("refuses a tampered key, variant, expiry or signature", async () => {
    const good = url();
    const tampered = [
      good.replace("a%20b", "a%20c"),
      good.replace("/w320.webp/", "/w1024.webp/"),
      good.replace(/exp=\d+/, (m) => `exp=${Number(m.slice(4)) + 1}`),
      good.replace(/sig=([0-9a-f])/, (_m, c: string) => `sig=${c === "0" ? "1" : "0"}`),
    ];
    for (const path of tampered) {
      const result = await request(edge, path);
      expect(statusOf(result), path).toBe(403);
      expect(bodyOf(result)).toMatch(/bad signature/);
    }
  });

  it("refuses an expired URL, an unknown key id and a URL without a signature", async () => {
    expect(bodyOf(await request(edge, url({ exp: now() - 1 })))).toMatch(/expired/);
    expect(statusOf(await request(edge, url({ exp: now() - 1 })))).toBe(403);
    expect(bodyOf(await request(edge, url({ kid: "k9" })))).toMatch(/unknown key id/);
    expect(statusOf(await request(edge, "/w320.webp/photos/a.jpg"))).toBe(403);
    expect(statusOf(await request(edge, `/w320.webp/photos/a.jpg?exp=${now() + 60}&kid=k1&sig=zz`))).toBe(403);
  });

  it("accepts both keys during a rotation and only the new one after it", async () => {
    const rotating = edgeWith({ k1: OLD, k2: NEW });
    expect(statusOf(await request(rotating, url({ kid: "k1", secret: OLD })))).toBe(200);
    expect(statusOf(await request(rotating, url({ kid: "k2", secret: NEW })))).toBe(200);
    // A URL signed with one key's secret under the other key's id is not valid.
    expect(statusOf(await request(rotating, url({ kid: "k2", secret: OLD })))).toBe(403);
    const rotated = edgeWith({ k2: NEW });
    expect(statusOf(await request(rotated, url({ kid: "k1", secret: OLD })))).toBe(403);
    expect(statusOf(await request(rotated, url({ kid: "k2", secret: NEW })))).toBe(200);
  });

  it("compares signatures in constant time: every character is read, wherever the first difference is", () => {
    // Strings stand-ins that count reads: an early exit would read fewer characters.
    const counting = (text: string) => {
      let reads = 0;
      return { length: text.length, charCodeAt: (i: number) => (reads++, text.charCodeAt(i)), reads: () => reads };
    };
    const expected = "0123456789abcdef".repeat(4);
    for (const given of ["f" + expected.slice(1), expected.slice(0, -1) + "0", expected]) {
      const [a, b] = [counting(expected), counting(given)];
      const same = edge.sameSignature(a as unknown as string, b as unknown as string);
      expect(same).toBe(given === expected);
      expect([a.reads(), b.reads()]).toEqual([64, 64]);
    }
    expect(edge.sameSignature("abc", "abcd")).toBe(false);
  });
});

describe("variants and Accept", () => {
  const edge = edgeWith({ k1: OLD });
  const signed = (variant: string, key = "a.jpg") => signedPath(edge, variant, key, now() + 600, "k1", OLD);

  it("negotiates auto from Accept: AVIF, then WebP, then JPEG; fixed formats stay as named", async () => {
    const uriFor = async (variant: string, accept: string) => ((await request(edge, signed(variant), accept)) as { uri: string }).uri.split("/")[3];
    expect(await uriFor("w1024.auto", "image/avif,image/webp,image/apng,*/*;q=0.8")).toBe("w1024.auto-avif");
    expect(await uriFor("w1024.auto", "image/webp,*/*")).toBe("w1024.auto-webp");
    expect(await uriFor("w1024.auto", "*/*")).toBe("w1024.auto-jpeg");
    expect(await uriFor("hero", "image/webp")).toBe("hero.auto-webp");
    expect(await uriFor("thumb", "image/avif")).toBe("thumb.webp");
    expect(await uriFor("w320.jpeg", "image/avif")).toBe("w320.jpeg");
  });

  it("refuses variants the tenant does not offer (400), and malformed paths (400)", async () => {
    for (const variant of ["w321.webp", "w320.avif", "w320.gif", "nosuch", "w0320.webp"]) {
      const result = await request(edge, signed(variant));
      expect(statusOf(result), variant).toBe(400);
      expect(bodyOf(result)).toMatch(/not offered/);
    }
    expect(statusOf(await request(edge, "/only-one-segment"))).toBe(400);
    expect(statusOf(await request(edge, `/w320.webp/${"k".repeat(901)}?exp=1&kid=k1&sig=x`))).toBe(400);
    expect(statusOf(await request(edge, "/w320.webp/bad%E0%A4%A.jpg"))).toBe(400);
  });

  it("agrees with the rendering side on every variant it lets through", async () => {
    const candidates = ["thumb", "preview", "hero", "square", "w320.webp", "w320.jpeg", "w1024.auto", "w320.png", "w64.webp", "nosuch"];
    for (const variant of candidates) {
      for (const accept of ["image/avif", "image/webp", "*/*"]) {
        const concrete = edge.concreteVariant(variant, accept);
        if (concrete) expect(resolveVariant(tenant, concrete), `${variant} -> ${concrete}`).toBeDefined();
      }
    }
    expect(resolveVariant(tenant, "w320.png")).toBeUndefined();
    expect(resolveVariant(tenant, "hero.webp")).toBeUndefined(); // hero is negotiated only
    expect(resolveVariant(tenant, "w1024.auto-png")).toBeUndefined();
  });

  it("adds Vary: Accept to negotiated responses only", async () => {
    const respond = async (variant: string) => {
      const event = viewerRequestEvent("GET", signed(variant), { accept: "image/webp" });
      const rewritten = await edge.handler(event);
      const response = (await edge.handler({
        ...event,
        context: { eventType: "viewer-response" },
        request: rewritten as never,
        response: { statusCode: 200, headers: {} },
      })) as CfResponse;
      return response.headers.vary?.value;
    };
    expect(await respond("w1024.auto")).toBe("accept");
    expect(await respond("hero")).toBe("accept");
    expect(await respond("w320.webp")).toBeUndefined();
  });

  it("hashes and encodes keys exactly as the rendering side does", () => {
    const random = seededRandom(7);
    const alphabet = "aZ09 /+%?#&=~!*'()ü漢😀._-";
    for (let i = 0; i < 200; i++) {
      const key = Array.from({ length: 1 + Math.floor(random() * 30) }, () => [...alphabet][Math.floor(random() * [...alphabet].length)]).join("");
      expect(edge.keyHash(key)).toBe(keyHash(key));
      expect(decodeURIComponent(edge.encodeKey(key))).toBe(key);
      expect(edge.encodeKey(key)).toMatch(/^[A-Za-z0-9%/._~-]*$/);
    }
  });

  it("fits CloudFront's 10 KB code limit with the most presets a tenant may have", () => {
    const presets = Array.from({ length: 20 }, (_, i) => ({ name: `preset-with-a-long-name-${i}`, width: 100 + i, format: "auto" }));
    const largest = parseTenant({
      name: "big",
      renditions: Array.from({ length: 10 }, (_, i) => ({ name: `rendition-with-a-long-name-${i}`, width: 100 })),
      onDemand: { enabled: true, presets, widths: Array.from({ length: 20 }, (_, i) => 100 * (i + 1)) },
    });
    expect(Buffer.byteLength(edgeFunctionCode(edgePolicy(largest)))).toBeLessThanOrEqual(EDGE_CODE_LIMIT_BYTES);
  });
});

describe("CloudFront invalidation request", () => {
  it("sends one CreateInvalidation for the distribution with the paths and caller reference", async () => {
    const received: { method?: string; url?: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        received.push({ method: req.method, url: req.url, body });
        res.writeHead(201, { "content-type": "text/xml", location: "https://cloudfront/inv/I1" });
        res.end(
          `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>I1</Id><Status>InProgress</Status><CreateTime>2026-11-24T00:00:00Z</CreateTime><InvalidationBatch><Paths><Quantity>1</Quantity><Items><Path>/x</Path></Items></Paths><CallerReference>r</CallerReference></InvalidationBatch></Invalidation>`,
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const config = {
        region: "us-east-1",
        endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        credentials: { accessKeyId: "a", secretAccessKey: "b" },
      };
      await new CloudFrontInvalidator(config, "E2EXAMPLE").invalidate(["/_variants/0123/*"], "seq-1");
      expect(received).toHaveLength(1);
      expect(received[0]).toMatchObject({ method: "POST", url: "/2020-05-31/distribution/E2EXAMPLE/invalidation" });
      expect(received[0]!.body).toContain("<CallerReference>seq-1</CallerReference>");
      expect(received[0]!.body).toMatch(/<Quantity>1<\/Quantity><Items><Path>\/_variants\/0123\/\*<\/Path><\/Items>/);
    } finally {
      server.close();
    }
  });
});
