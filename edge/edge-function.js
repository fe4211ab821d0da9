// The tenant's CloudFront Function (runtime cloudfront-js-2.0), deployed as this text with the
// tenant's variant policy put in place of __POLICY__. The local endpoint runs the same text
// (edge/edge.ts), so what is tested here is what CloudFront runs.
//
// Viewer request, on every request, cache hits included: refuse what is malformed (400), check the
// signature and expiry (403), refuse variants the tenant does not allow (400), then rewrite the URI
// to where the variant is stored: /_variants/<sha256 of the key, 32 hex>/<concrete variant>/<key>.
// That URI is the cache key (no query string, no header: the signature never reaches it) and the
// proxy bucket's object key; "auto" becomes a concrete format here, from Accept, so a URL has at
// most three cached variants. Viewer response: adds Vary: Accept where the format was negotiated.
import cf from "cloudfront";
import crypto from "crypto";

const POLICY = __POLICY__;
const VARIANTS_PREFIX = "/_variants/";
const NEGOTIATED = ["avif", "webp", "jpeg"];
const kvs = cf.kvs();

/** What a signature covers: the variant, the source key (decoded), the expiry and the key id. */
function signedPayload(variant, key, expires, keyId) {
  return variant + "\n" + key + "\n" + expires + "\n" + keyId;
}

function sign(variant, key, expires, keyId, secret) {
  return crypto
    .createHmac("sha256", secret)
    .update(signedPayload(variant, key, expires, keyId))
    .digest("hex");
}

/** Compares every character whatever the first difference, so timing does not reveal a prefix. */
function sameSignature(expected, given) {
  if (expected.length !== given.length) return false;
  let difference = 0;
  for (let i = 0; i < expected.length; i++) difference |= expected.charCodeAt(i) ^ given.charCodeAt(i);
  return difference === 0;
}

function keyHash(key) {
  return crypto.createHash("sha256").update(key).digest("hex").slice(0, 32);
}

/** RFC 3986 encoding of each path segment: the one spelling of a key in every URL we make. */
function encodeKey(key) {
  return key
    .split("/")
    .map(function (segment) {
      return encodeURIComponent(segment).replace(/[!'()*]/g, function (c) {
        return "%" + c.charCodeAt(0).toString(16).toUpperCase();
      });
    })
    .join("/");
}

function utf8Length(text) {
  return encodeURIComponent(text).replace(/%[0-9A-F]{2}/gi, "_").length;
}

/** `/<variant>/<source key>` with the key percent-encoded; undefined when it is not that shape. */
function parseViewerUri(uri) {
  const match = /^\/([^/]+)\/(.+)$/.exec(uri);
  if (!match) return undefined;
  let key;
  try {
    key = decodeURIComponent(match[2]);
  } catch (e) {
    return undefined;
  }
  if (utf8Length(key) > POLICY.maxKeyBytes) return undefined;
  return { variant: match[1], key: key };
}

function acceptedFormat(accept, candidates) {
  const header = (accept || "").toLowerCase();
  for (let i = 0; i < candidates.length; i++) {
    const format = candidates[i];
    if (format === "jpeg" || header.indexOf("image/" + format) !== -1) return format;
  }
  return "jpeg";
}

/**
 * The stored (concrete) name of a variant the tenant allows: `thumb.webp`, `w1024.jpeg`,
 * `w1024.auto-avif` (negotiated, so a response carries Vary: Accept); undefined when not allowed.
 */
function concreteVariant(variant, accept) {
  let format;
  let name = variant;
  const width = /^w([1-9][0-9]{0,4})\.([a-z]+)$/.exec(variant);
  if (width) {
    if (POLICY.widths.indexOf(Number(width[1])) === -1 || POLICY.formats.indexOf(width[2]) === -1) return undefined;
    name = "w" + width[1];
    format = width[2];
  } else {
    if (!Object.prototype.hasOwnProperty.call(POLICY.named, variant)) return undefined;
    format = POLICY.named[variant];
  }
  if (format !== "auto") return name + "." + format;
  return name + ".auto-" + acceptedFormat(accept, NEGOTIATED);
}

function reply(statusCode, statusDescription, message) {
  return {
    statusCode: statusCode,
    statusDescription: statusDescription,
    headers: { "content-type": { value: "text/plain; charset=utf-8" }, "cache-control": { value: "no-store" } },
    body: { encoding: "text", data: message + "\n" },
  };
}

function queryValue(request, name) {
  const entry = request.querystring[name];
  return entry && !entry.multiValue ? entry.value : undefined;
}

async function viewerRequest(event) {
  const request = event.request;
  if (request.method !== "GET" && request.method !== "HEAD") return reply(405, "Method Not Allowed", "only GET and HEAD");
  const parsed = parseViewerUri(request.uri);
  if (!parsed) return reply(400, "Bad Request", "expected /<variant>/<source key>?exp=<unix seconds>&kid=<key id>&sig=<signature>");
  const expires = queryValue(request, "exp");
  const keyId = queryValue(request, "kid");
  const signature = queryValue(request, "sig");
  if (!expires || !keyId || !signature) return reply(403, "Forbidden", "unsigned URL: exp, kid and sig are required");
  if (!/^[0-9]{1,12}$/.test(expires) || !/^[A-Za-z0-9_-]{1,32}$/.test(keyId) || !/^[0-9a-f]{64}$/.test(signature)) {
    return reply(403, "Forbidden", "malformed signature parameters");
  }
  if (Number(expires) < Math.floor(Date.now() / 1000)) return reply(403, "Forbidden", "the URL has expired");
  let secret;
  try {
    secret = await kvs.get("key:" + keyId);
  } catch (e) {
    return reply(403, "Forbidden", "unknown key id");
  }
  if (!sameSignature(sign(parsed.variant, parsed.key, expires, keyId, secret), signature)) return reply(403, "Forbidden", "bad signature");
  const accept = request.headers.accept ? request.headers.accept.value : "";
  const concrete = concreteVariant(parsed.variant, accept);
  if (!concrete) return reply(400, "Bad Request", 'variant "' + parsed.variant + '" is not offered by this tenant');
  request.uri = VARIANTS_PREFIX + keyHash(parsed.key) + "/" + concrete + "/" + encodeKey(parsed.key);
  request.querystring = {};
  return request;
}

function viewerResponse(event) {
  const response = event.response;
  const uri = event.request.uri;
  // The request as CloudFront received it or as rewritten: a negotiated variant either way.
  let negotiated = /^\/_variants\/[0-9a-f]{32}\/[^/]+\.auto-[a-z]+\//.test(uri);
  if (!negotiated) {
    const parsed = parseViewerUri(uri);
    negotiated = !!parsed && (/^w[0-9]+\.auto$/.test(parsed.variant) || POLICY.named[parsed.variant] === "auto");
  }
  if (negotiated && response.statusCode === 200) response.headers["vary"] = { value: "accept" };
  return response;
}

async function handler(event) {
  return event.context.eventType === "viewer-response" ? viewerResponse(event) : viewerRequest(event);
}
