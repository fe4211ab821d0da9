/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The local console in a real headless browser (Debian's chromium, driven by playwright-core):
 * drop a photo and follow it to `done` with a link, thumbnails of the renditions' real sizes in rows
 * of one height, its page (durations, tags by exiftool's group, the map, the original), a failed
 * upload's reason cut to one line with the whole on hover, reprocessing a failure, redriving a
 * dead-lettered message, the on-demand playground, the routes that lead nowhere, a phone's width.
 * Screenshots of the main pages go to test/browser/output/.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import pino from "pino";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { chromium, type Browser, type Page } from "playwright-core";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startConsole, type ConsoleServer } from "../../local/console/server";
import { sidecarKey } from "../../runtime/keys";
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
        // A watermark on its one rendition: a missing overlay fails the object, which a reprocess redoes once it is there.
        { name: "other", renditions: [{ name: "marked", width: 200, format: "jpeg", overlay: { key: "_platform/overlays/mark.png" } }] },
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

  /**
   * Drops files on the drop zone of `tenant`'s page as a user's drag and drop does: a DataTransfer holding File objects.
   * Waits for that tenant's zone: after a change of the address's hash alone, the last page's zone stays until the new one is drawn.
   */
  async function drop(tenant: string, files: { name: string; type: string; data: Buffer }[]) {
    const payload = files.map((f) => ({ name: f.name, type: f.type, base64: f.data.toString("base64") }));
    const bucket = t.platform.tenants.get(tenant)!.sourceBucket;
    await page.locator("[data-test=drop-zone]", { hasText: `s3://${bucket}/` }).evaluate((zone, items) => {
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
  const uploadState = (key: string) => page.locator(`[data-upload="${key}"] [data-test=upload-state]`);
  let eiffel: Buffer;

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
    eiffel = photo;
    await drop("studio", [{ name: "eiffel.jpg", type: "image/jpeg", data: photo }]);
    // The dropped file's own line follows it to its outcome, with a link to its page.
    await expect.poll(() => uploadState("eiffel.jpg").getAttribute("data-outcome"), { timeout: 60_000 }).toBe("done");
    expect(await uploadState("eiffel.jpg").locator("[data-test=upload-link]").getAttribute("href")).toBe("#/t/studio/o/eiffel.jpg");
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
    const text = await row("eiffel.jpg").innerText();
    expect(text).toMatch(/\d+(\.\d+)? (B|KiB) · \d+(\.\d+)?%/); // metadata bytes read, and their share of the size
    // The capture time in the console's one format; the file records no zone, so none is invented.
    expect(text).toContain("14 Jul 2026, 10:00:00");
    expect(text).not.toContain("2026-07-14");
    await page.screenshot({ path: path.join(OUTPUT, "console-tenant.png"), fullPage: true });
  });

  it("uploads a large file in parts (multipart above 8 MiB), showing progress", async () => {
    const big = await sharp({ create: { width: 3000, height: 2400, channels: 3, noise: { type: "gaussian", mean: 128, sigma: 70 }, background: "#000" } })
      .jpeg({ quality: 100 })
      .toBuffer();
    expect(big.length).toBeGreaterThan(8 * 1024 * 1024);
    await drop("studio", [{ name: "big-noise.jpg", type: "image/jpeg", data: big }]);
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
    const facts = await page.locator("[data-test=facts]").innerText();
    expect(facts).toMatch(/dimensions\s+1600×1200/);
    expect(facts).toMatch(/captured\s+14 Jul 2026, 10:00:00/);
    expect(facts).toMatch(/updated\s+\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}:\d{2} \S+/);
    expect(facts).not.toContain("[object");
    expect(facts).not.toContain("{");
    await page.screenshot({ path: path.join(OUTPUT, "console-object.png"), fullPage: true });
  });

  it("shows the processing stages as bars against the longest, one row each", async () => {
    const durations = (await t.item("studio", "eiffel.jpg"))!.durationsMs!;
    const rows = page.locator("[data-test=durations] tr");
    expect(await rows.count()).toBe(Object.keys(durations).length);
    const longest = Math.max(...Object.values(durations));
    for (const [stage, ms] of Object.entries(durations)) {
      const line = page.locator(`[data-test=durations] tr[data-stage="${stage}"]`);
      expect(await line.innerText()).toMatch(new RegExp(`${stage}\\s+${ms} ms`));
      const width = await line.locator(".bar > span").evaluate((el: HTMLElement) => parseFloat(el.style.width));
      expect(width).toBeCloseTo(Math.max(1, (ms / longest) * 100), 1);
    }
  });

  it("lists the sidecar's tags by exiftool's group, sorted within each, and the search keeps the groups", async () => {
    await page.locator("[data-test=tag-search]").fill("");
    const groups = await page.locator("[data-test=tags] tbody").evaluateAll((bodies) => bodies.map((b) => (b as HTMLElement).dataset.group));
    expect(groups).toEqual(expect.arrayContaining(["File", "EXIF", "Composite"]));
    expect(groups.indexOf("File")).toBeLessThan(groups.indexOf("EXIF"));
    expect(groups.indexOf("EXIF")).toBeLessThan(groups.indexOf("Composite"));
    expect(await page.locator('[data-test=tags] tbody[data-group="EXIF"] tr[data-tag="Make"]').count()).toBe(1);
    expect(await page.locator('[data-test=tags] tbody[data-group="File"] tr[data-tag="MIMEType"]').count()).toBe(1);
    expect(await page.locator('[data-test=tags] tbody[data-group="Composite"] tr[data-tag="ImageSize"]').count()).toBe(1);
    for (const group of groups) {
      const names = await page
        .locator(`[data-test=tags] tbody[data-group="${group}"] tr[data-tag]`)
        .evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.tag!));
      expect(names, group).toEqual([...names].sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" })));
    }
    // Every tag of the sidecar is listed once.
    const sidecar = JSON.parse((await t.proxyObject("studio", sidecarKey("eiffel.jpg")))!.toString("utf8")) as { tags: Record<string, unknown> };
    expect(await page.locator("[data-test=tags] tr[data-tag]").count()).toBe(Object.keys(sidecar.tags).length);
    await page.locator("[data-test=tag-search]").fill("Model");
    await expect.poll(() => page.locator("[data-test=tags] tbody").count()).toBeLessThan(groups.length);
    expect(await page.locator('[data-test=tags] tbody[data-group="EXIF"] tr[data-tag="Model"]').innerText()).toContain("X-T5");
    await page.locator("[data-test=tag-search]").fill("");
  });

  it("draws the location on a real map, offline, with a link out to the place", async () => {
    const map = page.locator("[data-test=gps-map]");
    await map.waitFor();
    expect(await map.locator("path[data-country]").count()).toBeGreaterThan(5);
    // The Eiffel Tower's point falls inside France's outline, and outside its neighbours'.
    const inside = await map.evaluate((svg) => {
      const point = svg.querySelector("[data-test=gps-point]") as SVGCircleElement;
      const at = new DOMPoint(point.cx.baseVal.value, point.cy.baseVal.value);
      return Object.fromEntries(
        [...svg.querySelectorAll("path[data-country]")].map((p) => [(p as SVGPathElement).dataset.country, (p as SVGPathElement).isPointInFill(at)]),
      );
    });
    expect(
      Object.entries(inside)
        .filter(([, hit]) => hit)
        .map(([name]) => name),
    ).toEqual(["France"]);
    expect(inside).toHaveProperty("Belgium");
    const link = await page.locator("[data-test=map-link]").getAttribute("href");
    expect(link).toContain("mlat=48.85840&mlon=2.29450");
    // Nothing left the machine to draw it.
    const requests: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    await page.reload();
    await map.locator("path[data-country]").first().waitFor();
    expect(requests.filter((u) => !u.startsWith(consoleServer.url))).toEqual([]);
  });

  it("links to the original, as uploaded", async () => {
    const href = await page.locator("[data-test=original]").getAttribute("href");
    const response = await fetch(new URL(href!, consoleServer.url));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toContain("filename*=UTF-8''eiffel.jpg");
    expect(Buffer.from(await response.arrayBuffer()).equals(eiffel)).toBe(true);
  });

  it("shows the analysis: the placeholder decoded in the page, the focus over the preview, the palette, the near-duplicates", async () => {
    // A real photo, then a resized WebP copy of it: its near-duplicate.
    const photo = readFileSync(path.resolve(__dirname, "../../../shared/corpus/photos/mobile-jolla.jpg"));
    await page.goto(`${consoleServer.url}/#/t/studio`);
    await drop("studio", [{ name: "market.jpg", type: "image/jpeg", data: photo }]);
    await row("market.jpg").locator("[data-status=done]").waitFor({ timeout: 60_000 });
    await drop("studio", [{ name: "market-copy.webp", type: "image/webp", data: await sharp(photo).resize(1200).webp({ quality: 80 }).toBuffer() }]);
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
    await drop("studio", [{ name: "notes.jpg", type: "image/jpeg", data: Buffer.from("these are my notes, not a photo\n".repeat(20)) }]);
    await row("notes.jpg").locator("[data-status=failed]").waitFor({ timeout: 60_000 });
    await expect.poll(() => uploadState("notes.jpg").getAttribute("data-outcome"), { timeout: 60_000 }).toBe("failed");
    const item = (await t.item("studio", "notes.jpg"))!;
    expect(await uploadState("notes.jpg").innerText()).toContain(item.error!.code);
    const failure = page.locator('[data-test=failures] tr[data-key="notes.jpg"]');
    expect(await failure.innerText()).toContain(item.error!.code);
    // The reason is one line, cut; the whole of it on hover (and on the object's page).
    const reason = failure.locator("[data-test=reason]");
    expect(await reason.getAttribute("title")).toBe(item.error!.message);
    expect(await reason.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true);
    expect(await row("notes.jpg").locator("[data-test=reason]").getAttribute("title")).toBe(`${item.error!.code}: ${item.error!.message}`);
  });

  it("keeps every row of the list one height, whatever its thumbnails and reasons", async () => {
    const heights = await page.locator("[data-test=objects] tr[data-key]").evaluateAll((rows) => rows.map((r) => r.getBoundingClientRect().height));
    expect(heights.length).toBeGreaterThanOrEqual(4); // done with thumbnails, failed with a reason, a multipart upload
    expect(Math.max(...heights) - Math.min(...heights)).toBeLessThan(1);
    // Sizes, dimensions and times stay on one line: their text's boxes share one top.
    const lines = await page.locator("[data-test=objects] td.num, [data-test=objects] .when").evaluateAll((cells) =>
      cells.map((cell) => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
      }),
    );
    expect(lines.length).toBeGreaterThan(8);
    expect(lines.filter((n) => n > 1)).toEqual([]);
  });

  it("reprocesses a failed object from its page and follows it to done", async () => {
    await page.goto(`${consoleServer.url}/#/t/other`);
    await drop("other", [{ name: "poster.jpg", type: "image/jpeg", data: await jpegWithExif({ width: 800, height: 600 }) }]);
    await expect.poll(() => uploadState("poster.jpg").getAttribute("data-outcome"), { timeout: 60_000 }).toBe("failed");
    expect((await t.item("other", "poster.jpg"))!.error!.code).toBe("OVERLAY_MISSING");
    await uploadState("poster.jpg").locator("[data-test=upload-link]").click();
    await page.locator("[data-test=error]").waitFor();
    expect(await page.locator("[data-test=error]").innerText()).toContain("OVERLAY_MISSING");
    // The watermark the config names is put where it says, and the object redone from its page.
    const mark = await sharp({ create: { width: 64, height: 32, channels: 4, background: "#ffffffcc" } })
      .png()
      .toBuffer();
    const other = t.platform.tenants.get("other")!;
    await t.platform.clients.s3.send(
      new PutObjectCommand({ Bucket: other.sourceBucket, Key: "_platform/overlays/mark.png", Body: mark, ContentType: "image/png" }),
    );
    await page.locator("[data-test=reprocess]").click();
    await expect.poll(() => page.locator("[data-test=reprocess-result]").innerText()).toMatch(/sent to the queue again \(run \S+\)/);
    await page.locator("[data-test=facts] [data-status=done]").waitFor({ timeout: 60_000 });
    const item = (await t.item("other", "poster.jpg"))!;
    expect(item.status).toBe("done");
    expect(item.reprocessRun).toBeDefined();
    expect(await page.locator('[data-test=renditions] img[data-rendition="marked"]').count()).toBe(1);
    expect(await page.locator("[data-test=reprocess]").count()).toBe(0);
  });

  it("lists a dead-lettered message and redrives it on a click, after which it is processed", async () => {
    await page.goto(`${consoleServer.url}/#/t/studio`);
    proxy.add({ name: "broken-reads", kind: "s3-internal", match: (r) => r.path.includes("/cabin.jpg") && (r.method === "GET" || r.method === "HEAD") });
    await drop("studio", [{ name: "cabin.jpg", type: "image/jpeg", data: await jpegWithExif({ width: 900, height: 600 }) }]);
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

  it("says so for a tenant or an object that does not exist, and serves its icon", async () => {
    await page.goto(`${consoleServer.url}/#/t/nosuchtenant`);
    const unknown = page.locator("[data-test=unknown-tenant]");
    await unknown.waitFor();
    expect(await unknown.innerText()).toContain("no tenant nosuchtenant");
    expect(await unknown.locator("a").allInnerTexts()).toEqual(["studio", "other"]);
    expect(await page.locator("nav a.active").count()).toBe(0);
    await page.goto(`${consoleServer.url}/#/t/studio/o/${encodeURIComponent("never/uploaded.jpg")}`);
    const missing = page.locator("[data-test=missing-object]");
    await missing.waitFor();
    expect(await missing.innerText()).toMatch(/Tenant studio has no object never\/uploaded\.jpg/);
    expect(await page.locator("a", { hasText: "← studio" }).getAttribute("href")).toBe("#/t/studio");
    const offMap = await fetch(`${consoleServer.url}/api/map?lat=91&lon=0`);
    expect([offMap.status, ((await offMap.json()) as { error: string }).error]).toEqual([400, expect.stringContaining("|lat| <= 90")]);
    const icon = await fetch(`${consoleServer.url}/favicon.ico`);
    expect([icon.status, icon.headers.get("content-type")]).toEqual([200, "image/svg+xml"]);
    expect((await icon.text()).startsWith("<svg")).toBe(true);
    // A page and an object's page load without one failed request (icons included).
    const failed: string[] = [];
    const fresh = await browser.newPage();
    fresh.on("response", (r) => {
      if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
    });
    await fresh.goto(`${consoleServer.url}/#/t/studio`);
    await fresh.locator("[data-test=objects]").waitFor();
    await fresh.goto(`${consoleServer.url}/#/t/studio/o/eiffel.jpg`);
    await fresh.locator("[data-test=gps-map] path").first().waitFor();
    await fresh.close();
    expect(failed).toEqual([]);
  });

  it("is usable on a phone (390 px wide): nothing cut off, each object a card", async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
    try {
      await phone.goto(`${consoleServer.url}/#/t/studio`);
      const card = phone.locator('[data-test=objects] tr[data-key="eiffel.jpg"]');
      await card.waitFor();
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      for (const part of [card.locator("a").first(), card.locator("[data-status]"), card.locator("img").first(), card.locator("td[data-label=camera] .clip")]) {
        const box = (await part.boundingBox())!;
        expect(box.x).toBeGreaterThanOrEqual(0);
        expect(box.x + box.width).toBeLessThanOrEqual(390);
      }
      expect(await card.locator("td[data-label=camera]").innerText()).toBe("Fujifilm X-T5");
      // Each line is labelled (the table's header is hidden at this width).
      expect(await card.locator("td[data-label=camera]").evaluate((td) => getComputedStyle(td, "::before").content)).toBe('"camera"');
      await phone.screenshot({ path: path.join(OUTPUT, "console-phone.png"), fullPage: false });
      await phone.goto(`${consoleServer.url}/#/t/studio/o/eiffel.jpg`);
      await phone.locator("[data-test=gps-map] path").first().waitFor();
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      const map = (await phone.locator("[data-test=gps-map]").boundingBox())!;
      expect(map.x + map.width).toBeLessThanOrEqual(390);
    } finally {
      await phone.close();
    }
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
