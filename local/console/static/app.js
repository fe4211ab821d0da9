// The local console's page: plain browser JavaScript, no build step. Every value from the platform
// (keys, tags, reasons) is put into the page as text, never as HTML.
"use strict";

const state = { tenants: [], tenant: undefined, redriven: new Map() };

/** Builds an element; strings become text nodes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity))
    if (child !== undefined && child !== null && child !== false) el.append(child instanceof Node ? child : String(child));
  return el;
}

async function api(path, options = {}) {
  const response = await fetch(path, options);
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error(body?.error ?? `${response.status}`);
  return body;
}
const post = (path, body) =>
  api(path, {
    method: "POST",
    headers: { "x-console": "1", "content-type": "application/json", accept: "image/avif,image/webp,*/*" },
    body: JSON.stringify(body ?? {}),
  });
const tenantApi = (name) => `/api/tenants/${encodeURIComponent(name)}`;
/** A rendition through the console; `version` (the source's ETag) lets the browser cache it until the source changes. */
const proxyUrl = (tenant, key, version) => `${tenantApi(tenant)}/proxy?key=${encodeURIComponent(key)}${version ? `&v=${encodeURIComponent(version)}` : ""}`;

function bytes(n) {
  if (n === undefined || n === null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Metadata bytes read against the object's size: the share ranged reads saved. */
function metadataRead(item) {
  if (!item.metadataBytesRead || !item.size) return "";
  const share = Math.min(1, item.metadataBytesRead / item.size);
  return h(
    "span",
    { title: `${item.metadataRequests ?? "?"} requests, ${item.metadataMethod ?? ""}` },
    h("span", { class: "bar" }, h("span", { style: `width:${Math.max(2, share * 100)}%` })),
    `${bytes(item.metadataBytesRead)} of ${bytes(item.size)} (${(share * 100).toFixed(share < 0.01 ? 2 : 1)}%)`,
  );
}

const statusBadge = (status) => h("span", { class: `status ${status}`, "data-status": status }, status);
const dimensions = (item) => (item.width && item.height ? `${item.width}×${item.height}` : "");

function renderTenantNav() {
  const nav = document.getElementById("tenants");
  nav.replaceChildren(
    ...state.tenants.map((t) => h("a", { href: `#/t/${encodeURIComponent(t.name)}`, class: t.name === state.tenant?.name ? "active" : undefined }, t.name)),
  );
}

// ---- the tenant page ----------------------------------------------------------------------

function dropZone(tenant) {
  const prefix = h("input", { type: "text", placeholder: "optional/prefix/", "data-test": "prefix", size: 24 });
  const picker = h("input", { type: "file", multiple: true, style: "display:none", onchange: (e) => uploadFiles(tenant, [...e.target.files], prefix.value) });
  const zone = h(
    "div",
    { class: "drop", "data-test": "drop-zone" },
    h("p", {}, "Drop images here to upload them to ", h("span", { class: "mono" }, `s3://${tenant.sourceBucket}/`), " ", prefix),
    h(
      "p",
      {},
      h("button", { class: "secondary", onclick: () => picker.click() }, "Choose files…"),
      picker,
      h("span", { class: "muted" }, ` up to ${bytes(tenant.maxObjectBytes)}; multipart above 8 MiB`),
    ),
    h("div", { class: "uploads", id: "uploads" }),
  );
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    uploadFiles(tenant, [...(e.dataTransfer?.files ?? [])], prefix.value);
  });
  return zone;
}

/** XMLHttpRequest, not fetch: it reports upload progress. The server streams the body into S3. */
function uploadFiles(tenant, files, prefix) {
  for (const file of files) {
    const key = `${prefix || ""}${file.name}`;
    const bar = h("progress", { max: file.size || 1, value: 0 });
    const line = h(
      "div",
      { "data-upload": key },
      bar,
      " ",
      h("span", { class: "mono" }, key),
      " ",
      h("span", { class: "muted" }, bytes(file.size)),
      " ",
      h("span", { "data-test": "upload-state" }, "uploading"),
    );
    document.getElementById("uploads")?.append(line);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${tenantApi(tenant.name)}/upload?key=${encodeURIComponent(key)}`);
    xhr.setRequestHeader("x-console", "1");
    if (file.type) xhr.setRequestHeader("content-type", file.type);
    xhr.upload.onprogress = (e) => {
      bar.value = e.loaded;
    };
    xhr.onload = () => {
      line.querySelector("[data-test=upload-state]").textContent = xhr.status === 200 ? "uploaded, processing…" : `failed: ${xhr.responseText}`;
      bar.value = file.size;
      refreshList();
    };
    xhr.onerror = () => {
      line.querySelector("[data-test=upload-state]").textContent = "failed: connection error";
    };
    xhr.send(file);
  }
}

function objectRow(tenant, item) {
  const href = `#/t/${encodeURIComponent(tenant.name)}/o/${encodeURIComponent(item.objectKey)}`;
  return h(
    "tr",
    { "data-key": item.objectKey },
    h(
      "td",
      { class: "thumbs" },
      (item.renditions ?? []).map((r) =>
        h("img", {
          src: proxyUrl(tenant.name, r.key, item.etag),
          alt: r.name,
          title: `${r.name} ${r.width}×${r.height}`,
          "data-rendition": r.name,
          loading: "lazy",
        }),
      ),
    ),
    h("td", {}, h("a", { href, class: "mono" }, item.objectKey)),
    h("td", {}, statusBadge(item.status), item.error ? h("div", { class: "error", "data-test": "reason" }, `${item.error.code}: ${item.error.message}`) : null),
    h("td", {}, bytes(item.size)),
    h("td", {}, item.format ?? ""),
    h("td", {}, dimensions(item)),
    h("td", {}, item.capturedAt ?? ""),
    h("td", {}, item.camera ?? ""),
    h("td", {}, metadataRead(item)),
    h("td", { title: JSON.stringify(item.durationsMs ?? {}) }, item.durationsMs?.total !== undefined ? `${item.durationsMs.total} ms` : ""),
  );
}

async function deadLetterSection(tenant) {
  const messages = await api(`${tenantApi(tenant.name)}/dead-letters`);
  // Kept in state: the list refreshes (and this section with it) as the redriven messages are processed.
  const result = h("span", { class: "muted", "data-test": "redrive-result" }, state.redriven.get(tenant.name) ?? "");
  const button = h(
    "button",
    {
      "data-test": "redrive",
      disabled: messages.length === 0,
      onclick: async () => {
        button.disabled = true;
        try {
          const { moved } = await post(`${tenantApi(tenant.name)}/dead-letters/redrive`);
          state.redriven.set(tenant.name, ` moved ${moved} message${moved === 1 ? "" : "s"} back to the queue`);
        } catch (err) {
          state.redriven.set(tenant.name, ` ${err.message}`);
        }
        result.textContent = state.redriven.get(tenant.name);
        refreshList();
      },
    },
    `Redrive ${messages.length} message${messages.length === 1 ? "" : "s"}`,
  );
  return h(
    "section",
    { "data-test": "dead-letters" },
    h("h2", {}, "Dead-letter queue"),
    messages.length === 0
      ? h("p", { class: "muted" }, "Empty.")
      : h(
          "table",
          {},
          h("tr", {}, h("th", {}, "object"), h("th", {}, "receives"), h("th", {}, "sent")),
          messages.map((m) =>
            h(
              "tr",
              { "data-message": m.messageId },
              h("td", { class: "mono" }, m.keys.join(", ") || "(not an S3 notification)"),
              h("td", {}, m.receiveCount),
              h("td", {}, m.sentAt ?? ""),
            ),
          ),
        ),
    h("p", {}, button, result),
  );
}

function playground(tenant, items) {
  const od = tenant.onDemand;
  const variants = od.variants;
  const keySelect = h(
    "select",
    { "data-test": "play-key" },
    items.filter((i) => i.status === "done").map((i) => h("option", { value: i.objectKey }, i.objectKey)),
  );
  const variantSelect = h(
    "select",
    { "data-test": "play-variant" },
    variants.map((v) => h("option", { value: v }, v)),
  );
  const expires = h("input", { type: "number", value: 3600, min: 1, style: "width:7em" });
  const out = h("div", { "data-test": "play-result" });
  const run = async () => {
    out.replaceChildren(h("p", { class: "muted" }, "Signing…"));
    try {
      const result = await post(`${tenantApi(tenant.name)}/sign`, { key: keySelect.value, variant: variantSelect.value, expiresIn: Number(expires.value) });
      // The image as any viewer loads it: straight from the endpoint, by the signed URL.
      const img = result.status === 200 ? h("img", { src: result.url, alt: variantSelect.value, "data-test": "play-image" }) : null;
      const size = h("span", { class: "muted" });
      img?.addEventListener("load", () => {
        size.textContent = ` ${img.naturalWidth}×${img.naturalHeight}, ${bytes(result.bytes)}`;
      });
      out.replaceChildren(
        h("p", { class: "mono", style: "word-break:break-all" }, h("a", { href: result.url, target: "_blank" }, result.url)),
        h("p", {}, h("strong", {}, `${result.status}`), size),
        h(
          "div",
          { class: "grid mono" },
          Object.entries(result.headers).map(([k, v]) => [h("span", { class: "muted" }, k), h("span", {}, v)]),
        ),
        img ? h("div", { class: "renditions" }, h("figure", {}, img)) : h("pre", {}, result.text ?? ""),
      );
    } catch (err) {
      out.replaceChildren(h("p", { class: "error" }, err.message));
    }
  };
  return h(
    "section",
    { "data-test": "playground" },
    h("h2", {}, "On-demand playground"),
    h("p", { class: "muted" }, "Signs a URL for the tenant's endpoint (", h("span", { class: "mono" }, od.url), ") and fetches it as a browser would."),
    h("p", {}, keySelect, " ", variantSelect, " expires in ", expires, " s ", h("button", { onclick: run, "data-test": "play-go" }, "Sign and fetch")),
    out,
  );
}

function objectsSection(tenant, items) {
  return h(
    "section",
    { id: "objects" },
    h("h2", {}, `Recent objects `, h("span", { class: "muted" }, `(${items.length}, newest first, live)`)),
    items.length === 0
      ? h("p", { class: "muted" }, "Nothing yet: drop an image above.")
      : h(
          "table",
          { "data-test": "objects" },
          h(
            "tr",
            {},
            ["renditions", "key", "status", "size", "format", "dimensions", "captured", "camera", "metadata read", "time"].map((c) => h("th", {}, c)),
          ),
          items.map((item) => objectRow(tenant, item)),
        ),
  );
}

function failuresSection(items) {
  const failures = items.filter((i) => i.status === "failed");
  return h(
    "section",
    { id: "failures", "data-test": "failures" },
    h("h2", {}, `Failures (${failures.length})`),
    failures.length === 0
      ? h("p", { class: "muted" }, "None.")
      : h(
          "table",
          {},
          failures.map((i) =>
            h(
              "tr",
              { "data-key": i.objectKey },
              h("td", { class: "mono" }, i.objectKey),
              h("td", {}, h("strong", {}, i.error?.code ?? "")),
              h("td", { "data-test": "reason" }, i.error?.message ?? ""),
            ),
          ),
        ),
  );
}

async function renderTenant(tenant) {
  const items = await api(`${tenantApi(tenant.name)}/objects`);
  return [
    h("section", {}, h("h2", {}, "Upload"), dropZone(tenant)),
    objectsSection(tenant, items),
    failuresSection(items),
    await deadLetterSection(tenant),
    tenant.onDemand ? playground(tenant, items) : null,
  ];
}

/**
 * The live part of a tenant's page, replaced in place when an object changes: uploads in progress
 * and the playground's choices stay as the user left them.
 */
async function updateTenantLists(tenant) {
  const items = await api(`${tenantApi(tenant.name)}/objects`);
  document.getElementById("objects")?.replaceWith(objectsSection(tenant, items));
  document.getElementById("failures")?.replaceWith(failuresSection(items));
  document.querySelector("[data-test=dead-letters]")?.replaceWith(await deadLetterSection(tenant));
  const keys = document.querySelector("[data-test=play-key]");
  if (keys) {
    const chosen = keys.value;
    keys.replaceChildren(
      ...items.filter((i) => i.status === "done").map((i) => h("option", { value: i.objectKey, selected: i.objectKey === chosen }, i.objectKey)),
    );
  }
}

// ---- one object's page ----------------------------------------------------------------------

/** A tile-free map: the world as an equirectangular grid, the point, nothing fetched. */
function gpsMap(gps) {
  const [w, hgt] = [360, 180];
  const x = gps.longitude + 180;
  const y = 90 - gps.latitude;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("width", "540");
  svg.setAttribute("data-test", "gps-map");
  const add = (tag, attrs) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
    svg.append(el);
  };
  for (let lon = 0; lon <= 360; lon += 30) add("line", { x1: lon, y1: 0, x2: lon, y2: hgt, stroke: "#c9d6e8", "stroke-width": 0.4 });
  for (let lat = 0; lat <= 180; lat += 30) add("line", { x1: 0, y1: lat, x2: w, y2: lat, stroke: lat === 90 ? "#9fb3cf" : "#c9d6e8", "stroke-width": 0.4 });
  add("circle", { cx: x, cy: y, r: 3, fill: "#c4320a", stroke: "#fff", "stroke-width": 1 });
  return h("div", { class: "map" }, svg, h("div", { class: "muted" }, `${gps.latitude.toFixed(5)}, ${gps.longitude.toFixed(5)}`));
}

function sidecarTable(sidecar) {
  const tags = Object.entries(sidecar?.tags ?? {});
  const search = h("input", { type: "search", placeholder: `Search ${tags.length} tags`, "data-test": "tag-search", size: 30 });
  const body = h("tbody", {});
  const show = () => {
    const q = search.value.trim().toLowerCase();
    body.replaceChildren(
      ...tags
        .filter(([k, v]) => !q || k.toLowerCase().includes(q) || JSON.stringify(v).toLowerCase().includes(q))
        .map(([k, v]) => h("tr", { "data-tag": k }, h("td", { class: "mono" }, k), h("td", { class: "mono" }, typeof v === "string" ? v : JSON.stringify(v)))),
    );
  };
  search.addEventListener("input", show);
  show();
  return h("div", {}, h("p", {}, search), h("table", { "data-test": "tags" }, body));
}

/** ThumbHash's decoder, as a tenant's page would load it: the `thumbhash` package, which the console serves at this URL. */
const THUMBHASH_URL = "/thumbhash.js";
let thumbhashModule;
const thumbhash = () => (thumbhashModule ??= import(THUMBHASH_URL));

/** The analysis at upload: the placeholder decoded as a page would, the focus over the preview, the colours, the labels, the near-duplicates. */
function analysisSection(tenant, item, similar) {
  if (!item.thumbhash) {
    return h("section", { "data-test": "analysis" }, h("h2", {}, "Analysis"), h("p", { class: "muted" }, `None: ${item.analysisSkipped ?? "not analysed"}.`));
  }
  const preview = [...(item.renditions ?? [])].filter((r) => r.width && r.height).sort((a, b) => b.width * b.height - a.width * a.height)[0];
  const [w, hgt] = preview ? [Math.min(480, preview.width), Math.round((Math.min(480, preview.width) * preview.height) / preview.width)] : [320, 240];
  const placeholder = h("img", { alt: "ThumbHash placeholder", width: w, height: hgt, "data-test": "placeholder" });
  thumbhash().then(({ thumbHashToDataURL }) => {
    placeholder.src = thumbHashToDataURL(Uint8Array.from(atob(item.thumbhash), (c) => c.charCodeAt(0)));
  });
  const f = item.focus;
  const focusBox = f
    ? h("div", {
        class: `focus ${f.source}`,
        "data-test": "focus",
        title: `focus (${f.source}): x ${f.x}, y ${f.y}, ${f.width} × ${f.height}`,
        style: `left:${f.x * 100}%;top:${f.y * 100}%;width:${f.width * 100}%;height:${f.height * 100}%`,
      })
    : null;
  const figures = h(
    "div",
    { class: "renditions" },
    h("figure", {}, placeholder, h("figcaption", {}, "placeholder (ThumbHash, decoded in the page)")),
    preview
      ? h(
          "figure",
          {},
          h(
            "div",
            { class: "focus-frame", style: `width:${w}px;height:${hgt}px` },
            h("img", { src: proxyUrl(tenant.name, preview.key, item.etag), alt: preview.name, width: w, height: hgt }),
            focusBox,
          ),
          h(
            "figcaption",
            {},
            f
              ? `focus: ${f.source === "faces" ? `${item.faces} face${item.faces === 1 ? "" : "s"} (Rekognition)` : "saliency (edges, colour, skin tones)"}`
              : "",
          ),
        )
      : null,
  );
  const swatches = h(
    "div",
    { class: "palette", "data-test": "palette" },
    (item.palette ?? []).map((c, i) => h("span", { class: "swatch", title: i === 0 ? `${c} (dominant)` : c }, h("span", { style: `background:${c}` }), c)),
  );
  const labels = (list, withParent) =>
    list.length === 0
      ? h("span", { class: "muted" }, "none")
      : list.map((l) => h("span", { class: "label" }, `${withParent && l.parentName ? `${l.parentName} › ` : ""}${l.name} ${l.confidence}%`));
  const facts = [
    ["colours", swatches],
    ["phash", h("span", { class: "mono" }, item.phash)],
    ["blurhash", item.blurhash ? h("span", { class: "mono" }, item.blurhash) : undefined],
    ["labels", item.labels ? h("span", { "data-test": "labels" }, labels(item.labels, false)) : undefined],
    ["moderation", item.moderation ? h("span", { "data-test": "moderation" }, labels(item.moderation, true)) : undefined],
  ].filter(([, v]) => v !== undefined);
  const listed = new Set((item.similar ?? []).map((s) => s.key));
  const similarList =
    similar.length === 0
      ? h("p", { class: "muted", "data-test": "similar" }, "No near-duplicates.")
      : h(
          "ul",
          { "data-test": "similar" },
          similar.map((s) =>
            h(
              "li",
              {},
              h("a", { href: `#/t/${encodeURIComponent(tenant.name)}/o/${encodeURIComponent(s.key)}` }, s.key),
              ` — ${s.distance} bit${s.distance === 1 ? "" : "s"} apart${listed.has(s.key) ? " (earlier: in this item's similar list)" : " (later)"}`,
            ),
          ),
        );
  return h(
    "section",
    { "data-test": "analysis" },
    h("h2", {}, "Analysis"),
    figures,
    h(
      "div",
      { class: "grid" },
      facts.map(([k, v]) => [h("span", { class: "muted" }, k), h("span", {}, v)]),
    ),
    h("h3", {}, "Near-duplicates"),
    similarList,
  );
}

async function renderObject(tenant, key) {
  const { item, sidecar, similar } = await api(`${tenantApi(tenant.name)}/object?key=${encodeURIComponent(key)}`);
  const back = h("a", { href: `#/t/${encodeURIComponent(tenant.name)}` }, `← ${tenant.name}`);
  const facts = [
    ["status", statusBadge(item.status)],
    ["size", bytes(item.size)],
    ["format", item.format],
    ["dimensions", dimensions(item)],
    ["captured", item.capturedAt],
    ["camera", item.camera],
    ["metadata read", metadataRead(item)],
    ["durations", item.durationsMs ? JSON.stringify(item.durationsMs) : ""],
    ["error", item.error ? `${item.error.code}: ${item.error.message}` : undefined],
    ["renditions skipped", item.renditionsSkipped],
    ["quarantined", item.status === "quarantined" ? "moderation labels: no renditions, none served on demand" : undefined],
  ].filter(([, v]) => v !== undefined && v !== "");
  return [
    h("p", {}, back),
    h(
      "section",
      {},
      h("h2", { class: "mono" }, item.objectKey),
      h(
        "div",
        { class: "grid", "data-test": "facts" },
        facts.map(([k, v]) => [h("span", { class: "muted" }, k), h("span", {}, v)]),
      ),
    ),
    h(
      "section",
      {},
      h("h2", {}, "Renditions, at their real size"),
      (item.renditions ?? []).length === 0
        ? h("p", { class: "muted" }, "None.")
        : h(
            "div",
            { class: "renditions", "data-test": "renditions" },
            item.renditions.map((r) =>
              h(
                "figure",
                {},
                h("img", { src: proxyUrl(tenant.name, r.key, item.etag), alt: r.name, width: r.width, height: r.height, "data-rendition": r.name }),
                h("figcaption", {}, `${r.name}: ${r.width}×${r.height} ${r.format}, ${bytes(r.bytes)}`),
              ),
            ),
          ),
    ),
    item.status === "done" || item.status === "quarantined" || item.thumbhash ? analysisSection(tenant, item, similar ?? []) : null,
    tenant.keepGps && item.gps ? h("section", {}, h("h2", {}, "Location"), gpsMap(item.gps)) : null,
    h("section", {}, h("h2", {}, "Metadata (exiftool, the sidecar)"), sidecar ? sidecarTable(sidecar) : h("p", { class: "muted" }, "No sidecar.")),
    h("section", {}, h("h2", {}, "Table item"), h("pre", { "data-test": "item" }, JSON.stringify(item, null, 2))),
  ];
}

// ---- routing and live updates ------------------------------------------------------------------

let rendering = Promise.resolve();
async function route() {
  const [, tenantName, , key] = /^#\/t\/([^/]+)(\/o\/(.+))?$/.exec(location.hash) ?? [];
  state.tenant = state.tenants.find((t) => t.name === decodeURIComponent(tenantName ?? "")) ?? state.tenants[0];
  renderTenantNav();
  const view = document.getElementById("view");
  try {
    const content = key ? await renderObject(state.tenant, decodeURIComponent(key)) : await renderTenant(state.tenant);
    view.replaceChildren(...content.filter(Boolean));
  } catch (err) {
    view.replaceChildren(h("p", { class: "error" }, err.message));
  }
}

let refreshTimer;
function refreshList() {
  if (/\/o\//.test(location.hash)) return;
  clearTimeout(refreshTimer);
  const tenant = state.tenant;
  refreshTimer = setTimeout(() => {
    rendering = rendering.then(() => updateTenantLists(tenant)).catch(() => undefined);
  }, 150);
}

async function start() {
  state.tenants = await api("/api/tenants");
  window.addEventListener("hashchange", () => {
    rendering = rendering.then(route);
  });
  const events = new EventSource("/api/events");
  events.addEventListener("outcome", (e) => {
    if (JSON.parse(e.data).tenant === state.tenant?.name) refreshList();
  });
  rendering = rendering.then(route);
}

start();
