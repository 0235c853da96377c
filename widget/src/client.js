// `new ApiClient(app_key, app_id, test_mode, options?)` and `createTransaction(params)`:
// validate, seal, create the transaction, show the gateway's pages in the modal, and settle a
// Promise of the outcome `{transaction_hash, status}`.

import { errorMessage, resolveLocale } from "./i18n.js";
import { openModal } from "./modal.js";
import {
  API_PATH,
  CLOSE,
  FAILURE_STATUSES,
  NAVIGATE,
  STATUS,
  SUCCESS_STATUSES,
  frameUrl,
  httpUrl,
  isResult,
  normalizeBaseUrl,
  readMessage,
} from "./protocol.js";
import { fromBase64, sealJson } from "./seal.js";
import { validateParams } from "./validate.js";

const OPTIONS = new Set(["baseUrl", "onSuccess", "onFail", "onClose", "onError", "locale"]);
const CALLBACKS = ["onSuccess", "onFail", "onClose", "onError"];
const HASH = /^[0-9a-f]{40}$/;

let defaultBaseUrl = null;

/** Set by the entry point from the script's own address. */
export function setDefaultBaseUrl(url) {
  defaultBaseUrl = url;
}

/**
 * Why createTransaction was rejected. For the gateway's problem documents (RFC 9457) `status`,
 * `type`, `title`, `detail` and `errors` are the document's; parameters refused before sending
 * carry status 422 and type "/problems/invalid-parameters" like the gateway's own answer.
 * Errors that are not HTTP answers have status 0 and a "ktwidget:" type.
 */
export class KtwidgetError extends Error {
  constructor(message, { status = 0, type = "about:blank", title = "", detail = "", errors = [] } = {}) {
    super(message);
    this.name = "KtwidgetError";
    this.status = status;
    this.type = type;
    this.title = title;
    this.detail = detail || message;
    this.errors = errors;
  }
}

function invalid(errors) {
  const detail = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
  return new KtwidgetError(`invalid transaction parameters: ${detail}`, {
    status: 422,
    type: "/problems/invalid-parameters",
    title: "Invalid parameters",
    detail,
    errors,
  });
}

function fromProblem(status, body) {
  const doc = body && typeof body === "object" ? body : {};
  const title = typeof doc.title === "string" ? doc.title : "";
  const detail = typeof doc.detail === "string" ? doc.detail : `the gateway answered ${status}`;
  const errors = Array.isArray(doc.errors) ? doc.errors : [];
  return new KtwidgetError(`${status}${title ? ` ${title}` : ""}: ${detail}`, {
    status,
    type: typeof doc.type === "string" ? doc.type : "about:blank",
    title,
    detail,
    errors,
  });
}

/** Run a merchant's callback; its exceptions are reported, never let into the widget. */
function call(callback, value) {
  if (typeof callback !== "function") return;
  try {
    callback(value);
  } catch (error) {
    setTimeout(() => {
      throw error;
    });
  }
}

let openModalCount = 0; // one payment window at a time on a page

export class ApiClient {
  /**
   * @param {string} app_key base64 of the app's X25519 public key (44 characters)
   * @param {string} app_id 32 lowercase hex characters
   * @param {boolean} test_mode true: sandbox, no real money
   * @param {{baseUrl?: string, locale?: string, onSuccess?: Function, onFail?: Function,
   *          onClose?: Function, onError?: Function}} [options]
   */
  constructor(app_key, app_id, test_mode, options = {}) {
    const key = typeof app_key === "string" && app_key.length === 44 ? fromBase64(app_key) : null;
    if (!key || key.length !== 32) {
      throw new TypeError(
        "app_key must be the 44-character standard base64 of a 32-byte public key, " +
          "as `ktwidget merchant create` prints it",
      );
    }
    if (typeof app_id !== "string" || !/^[0-9a-f]{32}$/.test(app_id)) {
      throw new TypeError("app_id must be 32 lowercase hex characters");
    }
    if (typeof test_mode !== "boolean") throw new TypeError("test_mode must be true or false");
    if (options === null || typeof options !== "object") {
      throw new TypeError("options must be an object");
    }
    for (const name of Object.keys(options)) {
      if (!OPTIONS.has(name)) throw new TypeError(`unknown option ${name}`);
    }
    for (const name of CALLBACKS) {
      if (options[name] != null && typeof options[name] !== "function") {
        throw new TypeError(`${name} must be a function`);
      }
    }
    let baseUrl = defaultBaseUrl;
    if (options.baseUrl != null) {
      baseUrl = normalizeBaseUrl(options.baseUrl);
      if (!baseUrl) throw new TypeError("baseUrl must be an http or https URL");
    }
    this.app_key = app_key;
    this.app_id = app_id;
    this.test_mode = test_mode;
    this.baseUrl = baseUrl;
    this.options = { ...options };
  }

  /**
   * Create a transaction and let the customer pay in the modal.
   * @param {object} params the transaction parameters (SPEC section 4)
   * @returns {Promise<{transaction_hash: string | null, status: string}>} settles with the result
   *   the gateway's receipt reports ("success", "completed", "error", "denied"), or with status
   *   "closed" when the customer closes the modal before that; rejects with a KtwidgetError when
   *   the parameters are refused or the transaction cannot be created.
   */
  createTransaction(params) {
    const refuse = (error) => {
      call(this.options.onError, error);
      return Promise.reject(error);
    };
    const errors = validateParams(params, { testMode: this.test_mode });
    if (errors.length) return refuse(invalid(errors));
    if (!this.baseUrl) {
      return refuse(
        new KtwidgetError("the gateway's address is unknown: pass options.baseUrl", {
          type: "ktwidget:configuration",
        }),
      );
    }
    if (openModalCount > 0) {
      return refuse(
        new KtwidgetError("a payment window is already open", { type: "ktwidget:modal-open" }),
      );
    }
    let payload;
    try {
      payload = sealJson(JSON.stringify(params), this.app_key);
    } catch (error) {
      return refuse(
        new KtwidgetError(`the parameters could not be sealed: ${error.message}`, {
          type: "ktwidget:configuration",
        }),
      );
    }
    return new Promise((resolve, reject) => run(this, payload, resolve, reject));
  }
}

/** One payment: the modal, the request, and the messages from the gateway's pages. */

function run(client, payload, resolve, reject) {
  const { onSuccess, onFail, onClose, onError } = client.options;
  // The modal and the gateway's pages speak the same language: the merchant's choice, else the
  // page's own <html lang>, else Russian.
  const locale = resolveLocale(client.options.locale || document.documentElement.lang);
  const controller = typeof AbortController === "function" ? new AbortController() : null;
  let transactionHash = null;
  let frame = null;
  let frameOrigin = null;
  let result = null; // the first result status reported, as an outcome
  let settled = false;

  const settle = (fn, value) => {
    if (!settled) {
      settled = true;
      fn(value);
    }
  };
  const report = (status) => {
    if (result) return;
    result = { transaction_hash: transactionHash, status };
    settle(resolve, result);
    if (SUCCESS_STATUSES.has(status)) call(onSuccess, result);
    else if (FAILURE_STATUSES.has(status)) call(onFail, result);
  };
  const finish = (navigateTo) => {
    if (!modal.isOpen) return;
    window.removeEventListener("message", onMessage);
    modal.close();
    openModalCount -= 1;
    if (controller) controller.abort();
    const outcome = result || { transaction_hash: transactionHash, status: "closed" };
    settle(resolve, outcome);
    call(onClose, outcome);
    if (navigateTo) window.location.href = navigateTo;
  };
  const onMessage = (event) => {
    const message = readMessage(event, frameOrigin, frame && frame.contentWindow, transactionHash);
    if (!message) return;
    if (message.type === STATUS) {
      if (isResult(message.status)) report(message.status);
    } else if (message.type === NAVIGATE) {
      report(message.status);
      finish(message.url);
    } else if (message.type === CLOSE) {
      finish(null);
    }
  };

  const modal = openModal({ locale, testMode: client.test_mode, onCloseRequest: () => finish(null) });
  openModalCount += 1;

  fetch(`${client.baseUrl}${API_PATH}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Accept: "application/json, application/problem+json",
    },
    body: JSON.stringify({ app_id: client.app_id, test_mode: client.test_mode, payload }),
    mode: "cors",
    credentials: "omit",
    cache: "no-store",
    signal: controller ? controller.signal : undefined,
  })
    .then(
      async (response) => {
        let body = null;
        try {
          body = await response.json();
        } catch {
          body = null;
        }
        if (!response.ok) throw fromProblem(response.status, body);
        const paymentUrl = body && httpUrl(body.payment_url);
        if (!paymentUrl || !HASH.test(body.transaction_hash)) {
          throw new KtwidgetError("the gateway's answer has no usable payment_url", {
            status: response.status,
            type: "ktwidget:bad-response",
          });
        }
        return { hash: body.transaction_hash, paymentUrl };
      },
      (error) => {
        // A refused CORS preflight looks the same as a network failure from here.
        throw new KtwidgetError(
          `the gateway cannot be reached, or it refused this page's origin (is the page on ` +
            `one of the merchant's trusted domains?): ${error && error.message}`,
          { type: "ktwidget:network-error" },
        );
      },
    )
    .then(({ hash, paymentUrl }) => {
      if (!modal.isOpen) return;
      transactionHash = hash;
      frameOrigin = paymentUrl.origin;
      window.addEventListener("message", onMessage);
      frame = modal.showFrame(frameUrl(paymentUrl.href, window.location.origin, locale));
    })
    .catch((error) => {
      if (!modal.isOpen) return; // closed meanwhile: already settled as "closed"
      const failure =
        error instanceof KtwidgetError
          ? error
          : new KtwidgetError(String(error && error.message), { type: "ktwidget:bad-response" });
      modal.showError(errorMessage(failure, locale));
      settle(reject, failure);
      call(onError, failure);
    });
}

ApiClient.KtwidgetError = KtwidgetError;
