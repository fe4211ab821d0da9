/// <reference lib="dom" />
/**
 * The local console in a real headless browser (Debian's chromium, driven by playwright-core):
 * drop a photo, see it reach `done` with thumbnails of the renditions' real sizes, open its page,
 * see a failed upload's reason, redrive a dead-lettered message and see it processed, use the
 * on-demand playground. Screenshots of the main pages go to test/browser/output/.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { chromium, type Browser, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConsole, type ConsoleServer } from "../../local/console/server";
import { FaultProxy } from "../../fixtures/fault-proxy";
import { jpegWithExif } from "../../fixtures/images";
import { startTestPlatform, type TestPlatform } from "../support/platform";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const OUTPUT = path.join(__dirname, "output");
const missing = existsSync(CHROMIUM) ? undefined : `no browser at ${CHROMIUM}: install Debian's chromium (.ci/run does, as root) or set CHROMIUM_PATH`;
if (missing) console.warn(`skipping the console's browser tests: ${missing}`);

let t: TestPlatform;
let proxy: FaultProxy;
let consoleServer: ConsoleServer;
let browser: Browser;
let page: Page;

describe.skipIf(missing)("the local console in a browser", () => {
  beforeAll(async () => {
    mkdirSync(OUTPUT, { recursive: true });
    // The handlers' S3 calls pass a fault proxy, so a test can make one object's reads fail until it
    // is dead-lettered (one receive), then let it through for the redrive.
    proxy = new FaultProxy();
    await proxy.start();
    t = await startTestPlatform(
      [
        { name: "studio", metadata: { keepGps: true }, queue: { maxReceiveCount: 1 }, onDemand: { enabled: true, widths: [320], formats: ["auto", "webp"] } },
        { name: "other" },
      ],
      { runtimeEndpoints: { s3: proxy.url }, runtimeClientOptions: { maxAttempts: 1, requestTimeoutMs: 5_000 } },
    );
    proxy.upstream = t.platform.endpoints.s3;
    consoleServer = await startConsole(t.platform, { log: pino({ level: "silent" }) });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    await page.goto(`${consoleServer.url}/#/t/studio`);
  });

  afterAll(async () => {
    await browser?.close();
    await consoleServer?.close();
    await t?.stop();
    await proxy?.stop();
  });

  /** Drops files on the drop zone as a user's drag and drop does: a DataTransfer holding File objects. */
  async function drop(files: { name: string; type: string; data: Buffer }[]) {
    const payload = files.map((f) => ({ name: f.name, type: f.type, base64: f.data.toString("base64") }));
    await page.locator("[data-test=drop-zone]").evaluate((zone, items) => {
      const transfer = new DataTransfer();
      for (const item of items) {
        const bytes = Uint8Array.from(atob(item.base64), (c) => c.charCodeAt(0));
        transfer.items.add(new File([bytes], item.name, { type: item.type }));
      }
      zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, payload);
  }

  const row = (key: string) => page.locator(`tr[data-key="${key}"]`).first();

  it("is served on loopback only", () => {
    expect(new URL(consoleServer.url).hostname).toBe("127.0.0.1");
  });

  it("uploads a dropped photo, which reaches done with thumbnails of the renditions' real sizes", async () => {
    const photo = await jpegWithExif({
      width: 1600,
      height: 1200,
      gps: { latitude: 48.8584, longitude: 2.2945 },
      dateTimeOriginal: "2026:07:14 10:00:00",
      make: "Fujifilm",
      model: "X-T5",
    });
    await drop([{ name: "eiffel.jpg", type: "image/jpeg", data: photo }]);
    await row("eiffel.jpg").locator("[data-status=done]").waitFor({ timeout: 60_000 });
    const item = (await t.item("studio", "eiffel.jpg"))!;
    expect(item.status).toBe("done");
    const thumbs = row("eiffel.jpg").locator("img[data-rendition]");
    expect(await thumbs.count()).toBe(item.renditions!.length);
    for (const rendition of item.renditions!) {
      const img = row("eiffel.jpg").locator(`img[data-rendition="${rendition.name}"]`);
      await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(rendition.width);
      expect(await img.evaluate((el: HTMLImageElement) => el.naturalHeight)).toBe(rendition.height);
    }
    await expect.poll(() => row("eiffel.jpg").innerText()).toMatch(/Fujifilm X-T5/);
    expect(await row("eiffel.jpg").innerText()).toMatch(/of .*\(\d+(\.\d+)?%\)/); // metadata bytes read of the size
    await page.screenshot({ path: path.join(OUTPUT, "console-tenant.png"), fullPage: true });
  });

  it("uploads a large file in parts (multipart above 8 MiB), showing progress", async () => {
    const big = await sharp({ create: { width: 3000, height: 2400, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 70 }, background: "#000" } })
      .jpeg({ quality: 100 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(8 * 1024 * 1024);
    await drop([{ name: "big-noise.jpg", type: "image/jpeg", data: big }]);
    const line = page.locator('[data-upload="big-noise.jpg"]');
    await expect.poll(() => line.locator("[data-test=upload-state]").innerText(), { timeout: 60_000 }).toMatch(/uploaded/);
    expect(await line.locator("progress").evaluate((el: HTMLProgressElement) => [el.value, el.max])).toEqual([big.length, big.length]);
    await row("big-noise.jpg").locator("[data-status=done]").waitFor({ timeout: 60_000 });
    // S3's ETag of a multipart object is the hash of the parts' hashes, "-" and the part count.
    expect((await t.item("studio", "big-noise.jpg"))!.etag).toMatch(/-2$/);
  });

  it("opens the object's page: renditions at their real size, searchable metadata, the location", async () => {
    await page.goto(`${consoleServer.url}/#/t/studio`);
    await row("eiffel.jpg").locator("a").click();
    await page.locator("[data-test=renditions] img").first().waitFor();
    const item = (await t.item("studio", "eiffel.jpg"))!;
    for (const rendition of item.renditions!) {
      const img = page.locator(`[data-test=renditions] img[data-rendition="${rendition.name}"]`);
      await expect
        .poll(() => img.evaluate((el: HTMLImageElement) => el.complete && [el.naturalWidth, el.naturalHeight]))
        .toEqual([rendition.width, rendition.height]);
      expect((await img.boundingBox())!.width).toBeCloseTo(rendition.width, 0);
    }
    const tags = page.locator("[data-test=tags] tr");
    const all = await tags.count();
    expect(all).toBeGreaterThan(20);
    await page.locator("[data-test=tag-search]").fill("Model");
    await expect.poll(() => tags.count()).toBeLessThan(all);
    expect(await page.locator('[data-test=tags] tr[data-tag="Model"]').innerText()).toContain("X-T5");
    await expect(page.locator("[data-test=gps-map]").count()).resolves.toBe(1);
    const facts = await page.locator("[data-test=facts]").innerText();
    expect(facts).toMatch(/dimensions\s+1600×1200/);
    expect(facts).not.toContain("[object");
    await page.screenshot({ path: path.join(OUTPUT, "console-object.png"), fullPage: true });
  });

  it("shows the analysis: the placeholder decoded in the page, the focus over the preview, the palette, the near-duplicates", async () => {
    // A real photo, then a resized WebP copy of it: its near-duplicate.
    const photo = readFileSync(path.resolve(__dirname, "../../../shared/corpus/photos/mobile-jolla.jpg"));
    await page.goto(`${consoleServer.url}/#/t/studio`);
    await drop([{ name: "market.jpg", type: "image/jpeg", data: photo }]);
    await row("market.jpg").locator("[data-status=done]").waitFor({ timeout: 60_000 });
    await drop([{ name: "market-copy.webp", type: "image/webp", data: await sharp(photo).resize(1200).webp({ quality: 80 }).toBuffer() }]);
    await row("market-copy.webp").locator("[data-status=done]").waitFor({ timeout: 60_000 });
    await page.goto(`${consoleServer.url}/#/t/studio/o/market.jpg`);
    const item = (await t.item("studio", "market.jpg"))!;
    const placeholder = page.locator("[data-test=placeholder]");
    await expect
      .poll(() => placeholder.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth > 0 && el.src.startsWith("data:image/png")))
      .toBe(true);
    const box = await page.locator("[data-test=focus]").evaluate((el: HTMLElement) => [el.style.left, el.style.top, el.style.width, el.style.height]);
    expect(box.map((v) => parseFloat(v))).toEqual([item.focus!.x, item.focus!.y, item.focus!.width, item.focus!.height].map((v) => expect.closeTo(v * 100, 3)));
    expect(await page.locator("[data-test=palette] .swatch").count()).toBe(item.palette!.length);
    expect(await page.locator("[data-test=palette]").innerText()).toContain(item.dominantColor);
    // The later copy lists the photo; the photo's page finds the copy live (a later object).
    expect((await t.item("studio", "market-copy.webp"))!.similar!.map((s) => s.key)).toEqual(["market.jpg"]);
    await expect.poll(() => page.locator("[data-test=similar] a").allInnerTexts()).toEqual(["market-copy.webp"]);
    await page.locator("[data-test=analysis]").scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(OUTPUT, "console-analysis.png"), fullPage: true });
  });

  it("shows a failed upload with its code and reason", async () => {
    await page.goto(`${consoleServer.url}/#/t/studio`);
    await drop([{ name: "notes.jpg", type: "image/jpeg", data: Buffer.from("these are my notes, not a photo\n".repeat(20)) }]);
    await row("notes.jpg").locator("[data-status=failed]").waitFor({ timeout: 60_000 });
    const reason = await page.locator('[data-test=failures] tr[data-key="notes.jpg"]').innerText();
    const item = (await t.item("studio", "notes.jpg"))!;
    expect(reason).toContain(item.error!.code);
    expect(reason).toContain(item.error!.message.slice(0, 40));
  });

  it("lists a dead-lettered message and redrives it on a click, after which it is processed", async () => {
    proxy.add({ name: "broken-reads", kind: "s3-internal", match: (r) => r.path.includes("/cabin.jpg") && (r.method === "GET" || r.method === "HEAD") });
    await drop([{ name: "cabin.jpg", type: "image/jpeg", data: await jpegWithExif({ width: 900, height: 600 }) }]);
    await expect.poll(async () => (await t.deadLetters("studio")).length, { timeout: 60_000 }).toBe(1);
    await page.reload();
    await page.locator("[data-test=dead-letters] td", { hasText: "cabin.jpg" }).waitFor();
    proxy.rules.length = 0;
    await page.screenshot({ path: path.join(OUTPUT, "console-dead-letters.png"), fullPage: true });
    await page.locator("[data-test=redrive]").click();
    await expect.poll(() => page.locator("[data-test=redrive-result]").innerText()).toContain("moved 1 message");
    await expect.poll(async () => (await t.item("studio", "cabin.jpg"))?.status, { timeout: 60_000 }).toBe("done");
    await row("cabin.jpg").locator("[data-status=done]").waitFor({ timeout: 30_000 });
    expect(await t.deadLetters("studio")).toEqual([]);
  });

  it("builds a signed on-demand URL in the playground and shows the result", async () => {
    await page.locator("[data-test=play-key]").selectOption("eiffel.jpg");
    await page.locator("[data-test=play-variant]").selectOption("w320.auto");
    await page.locator("[data-test=play-go]").click();
    const image = page.locator("[data-test=play-image]");
    await expect.poll(() => image.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth), { timeout: 30_000 }).toBe(320);
    const result = await page.locator("[data-test=play-result]").innerText();
    expect(result, result).toMatch(/200[\s\S]*x-origin[\s\S]*render/);
    await page.screenshot({ path: path.join(OUTPUT, "console-playground.png"), fullPage: true });
  });

  it("refuses writes that do not come from the console page", async () => {
    const tenant = "studio";
    const forged = await fetch(`${consoleServer.url}/api/tenants/${tenant}/dead-letters/redrive`, { method: "POST" });
    expect(forged.status).toBe(403);
    const crossSite = await fetch(`${consoleServer.url}/api/tenants/${tenant}/upload?key=x.jpg`, {
      method: "POST",
      headers: { "x-console": "1", origin: "http://evil.example" },
      body: "x",
    });
    expect(crossSite.status).toBe(403);
  });
});
