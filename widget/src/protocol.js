// What the widget and the gateway's pages agree on, kept free of the DOM so node can test it.
//
// The iframe loads `payment_url` with `origin=<merchant page's origin>&lang=<ru|kk|en>` appended
// (`lang` is the modal's language, so both speak the same one); the gateway
// checks it against the merchant's trusted domains and posts to `window.parent` with that origin
// as targetOrigin:
//   {source: "ktwidget", type: "ktwidget:status",   transaction_hash, status}        (receipt)
//   {source: "ktwidget", type: "ktwidget:navigate", transaction_hash, status, url}   ("Продолжить")
//   {source: "ktwidget", type: "ktwidget:close",    transaction_hash}                (optional:
//       Esc pressed inside the iframe, where the merchant page cannot see the key)
// The widget posts nothing to the iframe.

export const MESSAGE_SOURCE = "ktwidget";
export const STATUS = "ktwidget:status";
export const NAVIGATE = "ktwidget:navigate";
export const CLOSE = "ktwidget:close";
export const API_PATH = "/api/v1/widget/transactions";

export const SUCCESS_STATUSES = new Set(["success", "completed"]);
export const FAILURE_STATUSES = new Set(["error", "denied"]);
const STATUSES = new Set(["pending", "authorized", ...SUCCESS_STATUSES, ...FAILURE_STATUSES]);

/** Whether a status is a result the customer sees on the receipt (the promise settles on it). */
export const isResult = (status) => SUCCESS_STATUSES.has(status) || FAILURE_STATUSES.has(status);

/** An absolute http(s) URL, or null. */
export function httpUrl(text) {
  if (typeof text !== "string") return null;
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  return url.protocol === "http:" || url.protocol === "https:" ? url : null;
}

/**
 * `payment_url` with the merchant page's origin appended as the `origin` query parameter, and the
 * modal's language as `lang`; a fragment stays last.
 */
export function frameUrl(paymentUrl, merchantOrigin, lang) {
  const hashAt = paymentUrl.indexOf("#");
  const base = hashAt < 0 ? paymentUrl : paymentUrl.slice(0, hashAt);
  const fragment = hashAt < 0 ? "" : paymentUrl.slice(hashAt);
  let query = `origin=${encodeURIComponent(merchantOrigin)}`;
  if (lang) query += `&lang=${encodeURIComponent(lang)}`;
  const joiner = !base.includes("?") ? "?" : base.endsWith("?") || base.endsWith("&") ? "" : "&";
  return `${base}${joiner}${query}${fragment}`;
}

/**
 * The gateway's base URL from the address the script was loaded from:
 * https://pay.example/static/ktwidget.js -> https://pay.example (a path prefix before /static/
 * is kept, so a gateway behind https://example/pay/ works too). Null when unusable.
 */
export function baseFromScriptUrl(scriptUrl) {
  const url = httpUrl(scriptUrl);
  if (!url) return null;
  const prefix = /^(.*)\/static\/[^/]*$/.exec(url.pathname);
  return url.origin + (prefix ? prefix[1] : "");
}

/** A base URL as given by the merchant, without a trailing slash; null when not http(s). */
export function normalizeBaseUrl(text) {
  const url = httpUrl(String(text));
  if (!url) return null;
  return (url.origin + url.pathname).replace(/\/+$/, "");
}

/**
 * The message data when `event` comes from the gateway's frame, else null: the origin must be
 * the frame's, the source window the frame's own window, and the data a ktwidget message about
 * this transaction.
 */
export function readMessage(event, expectedOrigin, frameWindow, transactionHash) {
  if (!event || event.origin !== expectedOrigin) return null;
  if (!frameWindow || event.source !== frameWindow) return null;
  const data = event.data;
  if (!data || typeof data !== "object" || data.source !== MESSAGE_SOURCE) return null;
  if (data.transaction_hash !== transactionHash) return null;
  if (data.type === CLOSE) return { type: CLOSE };
  if (data.type !== STATUS && data.type !== NAVIGATE) return null;
  if (!STATUSES.has(data.status)) return null;
  if (data.type === STATUS) return { type: STATUS, status: data.status };
  const url = httpUrl(data.url);
  return { type: NAVIGATE, status: data.status, url: url ? url.href : null };
}
