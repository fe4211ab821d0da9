// The local console's page: plain browser JavaScript, no build step. Every value from the platform
// (keys, tags, reasons) is put into the page as text, never as HTML.
"use strict";

const state = { tenants: [], tenant: undefined, redriven: new Map() };

/** Files dropped on this page, by tenant and key, followed until the platform reports their outcome. */
const uploads = new Map();
const FINAL = new Set(["done", "failed", "quarantined", "deleted"]);
const unquoted = (eTag) => (eTag ?? "").replace(/"/g, "");

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
  if (!response.ok) throw Object.assign(new Error(body?.error ?? `${response.status}`), { status: response.status });
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

/** "1 message", "2 messages". */
const count = (n, noun) => `${n} ${noun}${n === 1 ? "" : "s"}`;
/** A failure as one line: its code and reason. */
const failureText = (error) => `${error.code}: ${error.message}`;

/** Metadata bytes read against the object's size: the share ranged reads saved. `compact` for the list (the whole of it on hover). */
function metadataRead(item, compact = false) {
  if (!item.metadataBytesRead || !item.size) return "";
  const share = Math.min(1, item.metadataBytesRead / item.size);
  const percent = `${(share * 100).toFixed(share < 0.01 ? 2 : share < 0.1 ? 1 : 0)}%`;
  const full = `${bytes(item.metadataBytesRead)} of ${bytes(item.size)} (${percent})`;
  const requests = item.metadataRequests === undefined ? "" : count(item.metadataRequests, "request");
  return h(
    "span",
    { title: [compact ? full : "", requests, item.metadataMethod].filter(Boolean).join(", ") },
    h("span", { class: "bar" }, h("span", { style: `width:${Math.max(2, share * 100)}%` })),
    compact ? `${bytes(item.metadataBytesRead)} · ${percent}` : full,
  );
}

const statusBadge = (status) => h("span", { class: `status ${status}`, "data-status": status }, status);
const objectHref = (tenantName, key) => `#/t/${encodeURIComponent(tenantName)}/o/${encodeURIComponent(key)}`;

/** A long text cut to one line; the whole of it on hover (and on the object's page). */
const clipped = (text, attrs = {}) => h("span", { class: "clip", title: text, ...attrs }, text);

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * A capture time as the camera's clock showed it, in the one format of the console
 * ("14 Jul 2026, 10:00:00"), followed by its zone when the file records one. Without a zone the
 * instant is unknown, so it is not converted to any zone.
 */
function captureTime(value) {
  const match = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/.exec(value ?? "");
  if (!match) return value ? h("span", { title: "as the file records it" }, value) : "";
  const [, year, month, day, hours, minutes, seconds, zone] = match;
  const text = `${Number(day)} ${MONTHS[Number(month) - 1]} ${year}, ${hours}:${minutes}${seconds ? `:${seconds}` : ""}`;
  return zone
    ? h("span", { class: "when", title: value }, `${text} ${zone === "Z" ? "UTC" : zone}`)
    : h("span", { class: "when", title: `${value}: the camera's clock; the file records no time zone` }, text);
}

const instantFormat = new Intl.DateTimeFormat("en-GB", {
  day: "numeric",
  month: "short",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
  timeZoneName: "short",
});
/** An instant the platform recorded (an update, a message sent), in the browser's zone, named. */
function instant(value) {
  const date = value ? new Date(value) : undefined;
  if (!date || Number.isNaN(date.getTime())) return value ?? "";
  const parts = Object.fromEntries(instantFormat.formatToParts(date).map((p) => [p.type, p.value]));
  return h(
    "span",
    { class: "when", title: value },
    `${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`,
  );
}

/** The stages of an object's processing, each a bar against the total (stages can overlap: metadata and download run side by side). */
function durationsTable(durations) {
  const { total, ...stages } = durations ?? {};
  if (total === undefined) return "";
  const longest = Math.max(total, ...Object.values(stages));
  const row = (name, ms) =>
    h(
      "tr",
      { "data-stage": name },
      h("td", {}, name),
      h("td", { class: "num" }, `${ms} ms`),
      h("td", { class: "bar-cell" }, h("span", { class: "bar wide" }, h("span", { style: `width:${Math.max(1, (ms / (longest || 1)) * 100)}%` }))),
    );
  return h(
    "table",
    { class: "durations", "data-test": "durations" },
    Object.entries(stages)
      .sort((a, b) => b[1] - a[1])
      .map(([name, ms]) => row(name, ms)),
    row("total", total),
  );
}
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
    const id = `${tenant.name}/${key}`;
    const upload = { tenant: tenant.name, key, line };
    uploads.set(id, upload);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${tenantApi(tenant.name)}/upload?key=${encodeURIComponent(key)}`);
    xhr.setRequestHeader("x-console", "1");
    if (file.type) xhr.setRequestHeader("content-type", file.type);
    xhr.upload.onprogress = (e) => {
      bar.value = e.loaded;
    };
    xhr.onload = () => {
      bar.value = file.size;
      if (xhr.status !== 200) {
        line.querySelector("[data-test=upload-state]").textContent = `upload failed: ${xhr.responseText}`;
        uploads.delete(id);
        return;
      }
      upload.eTag = unquoted(JSON.parse(xhr.responseText).eTag);
      if (upload.early && upload.early.eTag === upload.eTag) settleUpload(upload, upload.early);
      else if (!upload.settled) line.querySelector("[data-test=upload-state]").textContent = "uploaded, processing…";
      refreshList();
    };
    xhr.onerror = () => {
      line.querySelector("[data-test=upload-state]").textContent = "failed: connection error";
    };
    xhr.send(file);
  }
}

/** An outcome (from the live events, or the list when one was missed) for an upload of this page: its line says so, with a link to the object. */
function settleUpload(upload, outcome) {
  if (upload.settled) return;
  upload.settled = true;
  uploads.delete(`${upload.tenant}/${upload.key}`);
  upload.line
    .querySelector("[data-test=upload-state]")
    .replaceWith(
      h(
        "span",
        { "data-test": "upload-state", "data-outcome": outcome.status },
        statusBadge(outcome.status),
        " ",
        outcome.error ? clipped(failureText(outcome.error), { class: "clip error" }) : null,
        " ",
        h("a", { href: objectHref(upload.tenant, upload.key), "data-test": "upload-link" }, "open"),
      ),
    );
}

/** The live event of an object's outcome: an upload of this page whose bytes it is (same ETag) is settled; one still being sent keeps it for when it knows its ETag. */
function uploadOutcome(outcome) {
  const upload = uploads.get(`${outcome.tenant}/${outcome.key}`);
  if (!upload || !FINAL.has(outcome.status)) return;
  const eTag = unquoted(outcome.eTag);
  if (upload.eTag === undefined) upload.early = { ...outcome, eTag };
  else if (upload.eTag === eTag) settleUpload(upload, outcome);
}

function objectRow(tenant, item) {
  const href = objectHref(tenant.name, item.objectKey);
  const reason = item.error ? failureText(item.error) : undefined;
  return h(
    "tr",
    { "data-key": item.objectKey },
    h(
      "td",
      { class: "thumbs", "data-label": "renditions" },
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
    h("td", { "data-label": "key" }, h("a", { href, class: "mono clip key", title: item.objectKey }, item.objectKey)),
    h("td", { "data-label": "status" }, statusBadge(item.status), reason ? clipped(reason, { class: "clip error reason", "data-test": "reason" }) : null),
    h("td", { class: "num", "data-label": "size" }, bytes(item.size)),
    h("td", { class: "num", "data-label": "image" }, [item.format, dimensions(item)].filter(Boolean).join(" ")),
    h("td", { "data-label": "captured" }, captureTime(item.capturedAt)),
    h("td", { "data-label": "camera" }, item.camera ? clipped(item.camera) : ""),
    h("td", { class: "nowrap", "data-label": "metadata read" }, metadataRead(item, true)),
    h("td", { class: "num", "data-label": "took" }, item.durationsMs?.total !== undefined ? `${item.durationsMs.total} ms` : ""),
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
          state.redriven.set(tenant.name, ` moved ${count(moved, "message")} back to the queue`);
        } catch (err) {
          state.redriven.set(tenant.name, ` ${err.message}`);
        }
        result.textContent = state.redriven.get(tenant.name);
        refreshList();
      },
    },
    `Redrive ${count(messages.length, "message")}`,
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
              h("td", {}, instant(m.sentAt)),
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
          "div",
          { class: "scroll" },
          h(
            "table",
            { "data-test": "objects", class: "objects" },
            h(
              "tr",
              { class: "head" },
              ["renditions", "key", "status", "size", "image", "captured", "camera", "metadata read", "took"].map((c) => h("th", {}, c)),
            ),
            items.map((item) => objectRow(tenant, item)),
          ),
        ),
  );
}

function failuresSection(tenant, items) {
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
              h("td", {}, h("a", { href: objectHref(tenant.name, i.objectKey), class: "mono clip key", title: i.objectKey }, i.objectKey)),
              h("td", {}, h("strong", {}, i.error?.code ?? "")),
              h("td", {}, clipped(i.error?.message ?? "", { class: "clip reason", "data-test": "reason" })),
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
    failuresSection(tenant, items),
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
  const deadLetters = await deadLetterSection(tenant);
  // An outcome whose event this page missed (it opened after it was sent) is in the list.
  for (const item of items) {
    const upload = uploads.get(`${tenant.name}/${item.objectKey}`);
    if (upload?.eTag && upload.eTag === unquoted(item.etag) && FINAL.has(item.status)) settleUpload(upload, item);
  }
  // The user may have gone to another page since this refresh was asked for: what is shown now is not this tenant's list.
  if (state.tenant !== tenant || currentRoute().key !== undefined) return;
  document.getElementById("objects")?.replaceWith(objectsSection(tenant, items));
  document.getElementById("failures")?.replaceWith(failuresSection(tenant, items));
  document.querySelector("[data-test=dead-letters]")?.replaceWith(deadLetters);
  const keys = document.querySelector("[data-test=play-key]");
  if (keys) {
    const chosen = keys.value;
    keys.replaceChildren(
      ...items.filter((i) => i.status === "done").map((i) => h("option", { value: i.objectKey, selected: i.objectKey === chosen }, i.objectKey)),
    );
  }
}

// ---- one object's page ----------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
function svgElement(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  el.append(...children);
  return el;
}

/**
 * The photo's position on a real map drawn offline: the console's server projects Natural Earth's
 * countries (world-atlas, d3-geo) around it; no tiles are fetched. A link opens the place in
 * OpenStreetMap, for those who want the street.
 */
function gpsMap(gps) {
  const [lat, lon] = [gps.latitude.toFixed(5), gps.longitude.toFixed(5)];
  const frame = h("div", { class: "map-frame" }, h("p", { class: "muted" }, "Drawing the map…"));
  api(`/api/map?lat=${encodeURIComponent(gps.latitude)}&lon=${encodeURIComponent(gps.longitude)}`)
    .then((map) => {
      const svg = svgElement(
        "svg",
        { viewBox: `0 0 ${map.width} ${map.height}`, "data-test": "gps-map", role: "img", "aria-label": `map around ${lat}, ${lon}` },
        svgElement("rect", { width: map.width, height: map.height, class: "sea" }),
        svgElement("path", { d: map.graticule, class: "graticule" }),
        ...map.countries.map((c) => svgElement("path", { d: c.path, class: "land", "data-country": c.name }, svgElement("title", {}, c.name))),
        svgElement("circle", { cx: map.point.x, cy: map.point.y, r: 9, class: "halo" }),
        svgElement("circle", { cx: map.point.x, cy: map.point.y, r: 4.5, class: "point", "data-test": "gps-point" }),
      );
      frame.replaceChildren(svg);
    })
    .catch((err) => frame.replaceChildren(h("p", { class: "error" }, `The map could not be drawn: ${err.message}`)));
  const altitude = gps.altitude !== undefined ? `, ${Math.round(gps.altitude)} m` : "";
  return h(
    "div",
    { class: "map" },
    frame,
    h(
      "p",
      {},
      h("span", { class: "mono" }, `${lat}, ${lon}${altitude}`),
      " · ",
      h(
        "a",
        { href: `https://www.openstreetmap.org/?mlat=${lat}&mlon=${lon}#map=15/${lat}/${lon}`, target: "_blank", rel: "noopener", "data-test": "map-link" },
        "open in OpenStreetMap ↗",
      ),
      h("span", { class: "muted" }, " (Natural Earth 1:50m, drawn offline)"),
    ),
  );
}

/** exiftool's family-0 groups in the order exiftool lists a photo's (others after, by name). */
const GROUP_ORDER = [
  "ExifTool",
  "File",
  "JFIF",
  "EXIF",
  "MakerNotes",
  "XMP",
  "IPTC",
  "Photoshop",
  "ICC_Profile",
  "QuickTime",
  "PNG",
  "RIFF",
  "MPF",
  "Composite",
];
const groupRank = (group) => (GROUP_ORDER.includes(group) ? GROUP_ORDER.indexOf(group) : GROUP_ORDER.length);

/** The sidecar's tags by exiftool's group, sorted by name within each; the search filters names and values. */
function sidecarTable(sidecar, groups) {
  const tags = Object.entries(sidecar?.tags ?? {});
  const byGroup = new Map();
  for (const [name, value] of tags) {
    const group = groups[name] ?? "Other";
    byGroup.set(group, [...(byGroup.get(group) ?? []), [name, value]]);
  }
  const ordered = [...byGroup.entries()]
    .sort(([a], [b]) => groupRank(a) - groupRank(b) || a.localeCompare(b))
    .map(([group, list]) => [group, list.sort(([a], [b]) => a.localeCompare(b, "en", { sensitivity: "base" }))]);
  const search = h("input", { type: "search", placeholder: `Search ${tags.length} tags`, "data-test": "tag-search", size: 30 });
  const table = h("table", { "data-test": "tags", class: "tags" });
  const show = () => {
    const q = search.value.trim().toLowerCase();
    const text = (v) => (typeof v === "string" ? v : JSON.stringify(v));
    table.replaceChildren(
      ...ordered.flatMap(([group, list]) => {
        const shown = list.filter(([k, v]) => !q || k.toLowerCase().includes(q) || text(v).toLowerCase().includes(q));
        if (shown.length === 0) return [];
        return [
          h(
            "tbody",
            { "data-group": group },
            h("tr", { class: "group" }, h("th", { colspan: 2 }, group, h("span", { class: "muted" }, ` ${shown.length}`))),
            shown.map(([k, v]) => h("tr", { "data-tag": k }, h("td", { class: "mono" }, k), h("td", { class: "mono value" }, text(v)))),
          ),
        ];
      }),
    );
  };
  search.addEventListener("input", show);
  show();
  return h("div", {}, h("p", {}, search), h("div", { class: "scroll" }, table));
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
            f ? `focus: ${f.source === "faces" ? `${count(item.faces, "face")} (Rekognition)` : "saliency (edges, colour, skin tones)"}` : "",
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
              ` — ${count(s.distance, "bit")} apart${listed.has(s.key) ? " (earlier: in this item's similar list)" : " (later)"}`,
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

/** A failed object sent to its queue again (as `npm run reprocess -- --status failed` would); the page follows it live. */
function reprocessButton(tenant, item) {
  const result = h("span", { class: "muted", "data-test": "reprocess-result" });
  const button = h(
    "button",
    {
      "data-test": "reprocess",
      onclick: async () => {
        button.disabled = true;
        try {
          const { runId } = await post(`${tenantApi(tenant.name)}/reprocess`, { key: item.objectKey });
          result.textContent = ` sent to the queue again (run ${runId}); this page updates when it is processed`;
        } catch (err) {
          button.disabled = false;
          result.textContent = ` ${err.message}`;
        }
      },
    },
    "Reprocess",
  );
  return h("span", {}, button, result);
}

/** What the page says for a key the tenant has no item for: which tenant, and what to do. */
function missingObject(tenant, key) {
  return [
    h("p", {}, h("a", { href: `#/t/${encodeURIComponent(tenant.name)}` }, `← ${tenant.name}`)),
    h(
      "section",
      { "data-test": "missing-object" },
      h("h2", {}, "No such object"),
      h("p", {}, `Tenant ${tenant.name} has no object `, h("span", { class: "mono" }, key), "."),
      h(
        "p",
        { class: "muted" },
        "It was never uploaded here, or its record was removed after a deletion. Keys are case-sensitive; the tenant's page lists the recent ones.",
      ),
    ),
  ];
}

async function renderObject(tenant, key) {
  let found;
  try {
    found = await api(`${tenantApi(tenant.name)}/object?key=${encodeURIComponent(key)}`);
  } catch (err) {
    if (err.status === 404) return missingObject(tenant, key);
    throw err;
  }
  const { item, sidecar, groups, similar } = found;
  const back = h("a", { href: `#/t/${encodeURIComponent(tenant.name)}` }, `← ${tenant.name}`);
  const original =
    item.status === "deleted"
      ? undefined
      : h(
          "a",
          { href: `${tenantApi(tenant.name)}/original?key=${encodeURIComponent(item.objectKey)}`, target: "_blank", "data-test": "original" },
          "original ↗",
        );
  const facts = [
    ["status", h("span", {}, statusBadge(item.status), item.status === "failed" ? [" ", reprocessButton(tenant, item)] : null)],
    ["source", h("span", {}, h("span", { class: "mono" }, `s3://${tenant.sourceBucket}/${item.objectKey}`), original ? [" · ", original] : null)],
    ["size", bytes(item.size)],
    ["format", item.format],
    ["dimensions", dimensions(item)],
    ["captured", captureTime(item.capturedAt)],
    ["camera", item.camera],
    ["updated", instant(item.updatedAt)],
    ["metadata read", metadataRead(item)],
    ["durations", durationsTable(item.durationsMs)],
    ["error", item.error ? h("span", { class: "error", "data-test": "error" }, failureText(item.error)) : undefined],
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
    h(
      "section",
      {},
      h("h2", {}, "Metadata (exiftool, the sidecar)"),
      sidecar ? sidecarTable(sidecar, groups ?? {}) : h("p", { class: "muted" }, "No sidecar."),
    ),
    h("section", {}, h("h2", {}, "Table item"), h("pre", { "data-test": "item" }, JSON.stringify(item, null, 2))),
  ];
}

// ---- routing and live updates ------------------------------------------------------------------

let rendering = Promise.resolve();
/** A tenant the address names that this platform does not have: say so, and list those it has. */
function unknownTenant(name) {
  return [
    h(
      "section",
      { "data-test": "unknown-tenant" },
      h("h2", {}, "No such tenant"),
      h("p", {}, "This platform has no tenant ", h("span", { class: "mono" }, name), "."),
      h(
        "p",
        {},
        "Its tenants: ",
        state.tenants.map((t, i) => [i ? ", " : "", h("a", { href: `#/t/${encodeURIComponent(t.name)}` }, t.name)]),
        h("span", { class: "muted" }, ". Tenants come from the stack's config (Pulumi.<stack>.yaml); npm start reads them when it starts."),
      ),
    ),
  ];
}

/** The address's tenant and object key (`#/t/<tenant>/o/<key>`), decoded; undefined where absent. */
function currentRoute() {
  const [, tenant, , key] = /^#\/t\/([^/]+)(\/o\/(.+))?$/.exec(location.hash) ?? [];
  return { tenant: tenant === undefined ? undefined : decodeURIComponent(tenant), key: key === undefined ? undefined : decodeURIComponent(key) };
}

async function route() {
  const { tenant: named, key } = currentRoute();
  state.tenant = named === undefined ? state.tenants[0] : state.tenants.find((t) => t.name === named);
  renderTenantNav();
  const view = document.getElementById("view");
  if (!state.tenant) {
    view.replaceChildren(...unknownTenant(named));
    return;
  }
  try {
    const content = key !== undefined ? await renderObject(state.tenant, key) : await renderTenant(state.tenant);
    view.replaceChildren(...content.filter(Boolean));
  } catch (err) {
    view.replaceChildren(h("p", { class: "error" }, err.message));
  }
}

let refreshTimer;
function refreshList() {
  if (currentRoute().key !== undefined) return;
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
    const outcome = JSON.parse(e.data);
    uploadOutcome(outcome);
    if (outcome.tenant !== state.tenant?.name) return;
    // The object's own page follows it (after a reprocess, say); the tenant's page refreshes its lists.
    const { key } = currentRoute();
    if (key === undefined) refreshList();
    else if (key === outcome.key) rendering = rendering.then(route);
  });
  rendering = rendering.then(route);
}

start();
