// Transaction parameters (SPEC section 4), checked in the browser before anything is sealed.
//
// A port of src/ktwidget/domain/params.py as the Python SDK runs it
// (ValidationRules(production = !test_mode, allow_private_notify = true)): the same fields, the
// same order, the same messages. What only the gateway knows (the catalog, the trusted domains,
// the configured maximum amount) is checked there again. tests/integration/test_widget_parity.py
// compares both validators case by case.

export const MAX_ORDER_ID = 128;
export const MAX_DESCRIPTION = 1000;
export const MAX_CONTRACT_VALUE = 128;
export const MAX_URL_LENGTH = 2048;
const MAX_MINOR = 2n ** 63n - 1n; // a signed 64-bit column, as money.MAX_MINOR
const MAX_SERVICE_ID = 2 ** 63 - 1; // approximated by a double: anything this big is refused
const REDIRECT_FIELDS = ["callback_back_url", "callback_success_url", "callback_failed_url"];
const FIELDS = new Set([
  "order_id",
  "amount",
  "type",
  "service",
  "description",
  "callback_post_url",
  ...REDIRECT_FIELDS,
]);
const SERVICE_FIELDS = new Set(["service_id", "contract_value"]);
const DEFAULT_PORTS = { http: 80, https: 443 };

// Unicode category Cc, as unicodedata.category(ch) == "Cc".
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Python's str.isspace(): Unicode White_Space plus the information separators U+001C..U+001F.
const PY_SPACE = "\\t\\n\\v\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");
// normalize_url refuses spaces and ASCII control characters (below 32, and 127).
const SPACE_OR_CONTROL = new RegExp(`[${PY_SPACE}\\u0000-\\u001f\\u007f]`);

/** Length in code points, as Python's len() on str. */
const codePoints = (text) => {
  let n = 0;
  for (const _ of text) n++;
  return n;
};

const isPlainObject = (value) =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** A field is absent when it is missing, undefined or null (JSON null counts as absent). */
const absent = (value) => value === undefined || value === null;

/**
 * Minor units of a JS number, or an error message: > 0, finite, at most two decimals.
 * The decimal form is the one JSON.stringify sends, so 0.1 + 0.2 is refused as the gateway
 * would refuse 0.30000000000000004.
 * @returns {{minor: bigint} | {message: string}}
 */
export function parseAmount(value) {
  if (typeof value !== "number") return { message: "must be a number" };
  if (!Number.isFinite(value)) return { message: "must be a finite number" };
  if (value <= 0) return { message: "must be greater than 0" };
  const text = String(value); // shortest round-trip form, e.g. "10.5", "1e+21", "1e-7"
  const match = /^(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(text);
  if (!match) return { message: "must be a number" };
  const digits = match[1] + (match[2] || "");
  const exponent = Number(match[3] || 0) - (match[2] || "").length;
  let significant = digits.replace(/^0+(?=\d)/, "");
  let exp = exponent;
  while (significant.length > 1 && significant.endsWith("0")) {
    significant = significant.slice(0, -1);
    exp += 1;
  }
  if (exp < -2) return { message: "must have at most 2 decimal places" };
  const minor = BigInt(significant) * 10n ** BigInt(exp + 2);
  if (minor > MAX_MINOR) return { message: `must be at most ${formatMinor(MAX_MINOR)}` };
  return { minor };
}

function formatMinor(minor) {
  const text = minor.toString().padStart(3, "0");
  return `${text.slice(0, -2)}.${text.slice(-2)}`;
}

/**
 * The checks of urls._split on a URL with a scheme; mirrors urllib.parse.urlsplit closely enough
 * for what it refuses.
 * @returns {string | null} an error message, or null when the URL passes
 */
function splitError(url) {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url);
  let rest = url;
  let schemeName = "";
  if (scheme) {
    schemeName = scheme[1].toLowerCase();
    rest = url.slice(scheme[0].length);
  }
  let netloc = "";
  if (rest.startsWith("//")) {
    const end = rest.slice(2).search(/[/?#]/);
    netloc = end < 0 ? rest.slice(2) : rest.slice(2, 2 + end);
  }
  // urlsplit's own ValueErrors, then the port's: "is not a valid URL".
  if (netloc.includes("[") !== netloc.includes("]")) return "is not a valid URL";
  const at = netloc.lastIndexOf("@");
  const hostinfo = at >= 0 ? netloc.slice(at + 1) : netloc;
  let hostname;
  let port;
  const open = hostinfo.indexOf("[");
  if (open >= 0) {
    const bracketed = hostinfo.slice(open + 1);
    const close = bracketed.indexOf("]");
    hostname = close >= 0 ? bracketed.slice(0, close) : bracketed;
    const after = close >= 0 ? bracketed.slice(close + 1) : "";
    const colon = after.indexOf(":");
    port = colon >= 0 ? after.slice(colon + 1) : "";
    if (!/^(?:[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*|v[0-9A-Fa-f]+\.[\w.~!$&'()*+,;=:-]+)$/.test(hostname)) {
      return "is not a valid URL";
    }
  } else {
    const colon = hostinfo.indexOf(":");
    hostname = colon >= 0 ? hostinfo.slice(0, colon) : hostinfo;
    port = colon >= 0 ? hostinfo.slice(colon + 1) : "";
  }
  if (port) {
    if (!/^[0-9]+$/.test(port) || Number(port) > 65535) return "is not a valid URL";
  }
  if (!(schemeName in DEFAULT_PORTS)) return "must be an http or https URL";
  if (!hostname) return "must name a host";
  if (at >= 0) return "must not carry a user name or password";
  if (url.includes("\\")) return "must not contain backslashes";
  return null;
}

/**
 * urls.normalize_url: an http(s) URL; a bare host such as widget.nplus.tech means https://host/.
 * @returns {{url: string} | {message: string}}
 */
export function normalizeUrl(value) {
  let text = value.replace(PY_STRIP, "");
  if (!text) return { message: "must not be empty" };
  if (codePoints(text) > MAX_URL_LENGTH) {
    return { message: `must be at most ${MAX_URL_LENGTH} characters` };
  }
  if (SPACE_OR_CONTROL.test(text)) {
    return { message: "must not contain spaces or control characters" };
  }
  if (!text.includes("://")) {
    if (text.startsWith("/")) return { message: "must be an http or https URL" };
    const end = text.search(/[/?#]/);
    const cut = end < 0 ? text.length : end;
    if (text[cut] !== "/") text = `${text.slice(0, cut)}/${text.slice(cut)}`;
    text = `https://${text}`;
  }
  const message = splitError(text);
  return message ? { message } : { url: text };
}

/**
 * Check transaction parameters as the gateway will.
 * @param {unknown} raw the object given to createTransaction
 * @param {{testMode?: boolean}} [options] test_mode of the client: https notification URLs are
 *   required when it is false
 * @returns {{field: string, message: string}[]} every offending field; empty when all is well
 */
export function validateParams(raw, { testMode = true } = {}) {
  const errors = [];
  const add = (field, message) => errors.push({ field, message });
  if (!isPlainObject(raw)) return [{ field: "payload", message: "must be a JSON object" }];

  for (const name of Object.keys(raw).filter((k) => !FIELDS.has(k)).sort()) {
    add(name, "is not a known parameter");
  }

  const text = (name, required) => {
    const value = raw[name];
    if (absent(value)) {
      if (required) add(name, "is required");
      return null;
    }
    if (typeof value !== "string") {
      add(name, "must be a string");
      return null;
    }
    return value;
  };

  const orderId = text("order_id", true);
  if (orderId !== null) {
    const length = codePoints(orderId);
    if (length < 1 || length > MAX_ORDER_ID) {
      add("order_id", `must be 1 to ${MAX_ORDER_ID} characters long`);
    } else if (CONTROL.test(orderId)) {
      add("order_id", "must not contain control characters");
    }
  }

  if (absent(raw.amount)) {
    add("amount", "is required");
  } else {
    const parsed = parseAmount(raw.amount);
    if (parsed.message) add("amount", parsed.message);
  }

  let type = null;
  const typeText = text("type", true);
  if (typeText !== null) {
    if (typeText === "ecom" || typeText === "service") type = typeText;
    else add("type", "must be 'ecom' or 'service'");
  }

  checkService(raw.service, type, add);

  for (const name of REDIRECT_FIELDS) {
    const value = text(name, false);
    if (value !== null) {
      const result = normalizeUrl(value);
      if (result.message) add(name, result.message);
    }
  }

  const postUrl = text("callback_post_url", false);
  if (postUrl !== null) {
    const result = normalizeUrl(postUrl);
    if (result.message) add("callback_post_url", result.message);
    else if (!testMode && !result.url.toLowerCase().startsWith("https:")) {
      add("callback_post_url", "must be an https URL in production");
    }
  }

  const description = text("description", false);
  if (description !== null && codePoints(description) > MAX_DESCRIPTION) {
    add("description", `must be at most ${MAX_DESCRIPTION} characters`);
  }
  return errors;
}

function checkService(value, type, add) {
  if (type === "ecom" && !absent(value)) {
    add("service", "is only allowed when type is 'service'");
    return;
  }
  if (type !== "service") return;
  if (absent(value)) {
    add("service", "is required when type is 'service'");
    return;
  }
  if (!isPlainObject(value)) {
    add("service", "must be an object");
    return;
  }
  for (const name of Object.keys(value).filter((k) => !SERVICE_FIELDS.has(k)).sort()) {
    add(`service.${name}`, "is not a known parameter");
  }
  const id = value.service_id;
  if (absent(id)) add("service.service_id", "is required");
  else if (typeof id !== "number" || !Number.isFinite(id)) {
    add("service.service_id", "must be an integer");
  } else if (id <= 0 || !Number.isInteger(id)) {
    add("service.service_id", "must be a positive integer");
  } else if (id > MAX_SERVICE_ID) add("service.service_id", "is not an active service");

  const contract = value.contract_value;
  if (absent(contract)) add("service.contract_value", "is required");
  else if (typeof contract !== "string") add("service.contract_value", "must be a string");
  else {
    const length = codePoints(contract);
    if (length < 1 || length > MAX_CONTRACT_VALUE || CONTROL.test(contract)) {
      add(
        "service.contract_value",
        `must be 1 to ${MAX_CONTRACT_VALUE} printable characters`,
      );
    }
  }
}
