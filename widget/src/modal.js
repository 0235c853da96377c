// The payment modal of SPEC section 6: an overlay, a loading animation while the transaction is
// created, then the gateway's page in an iframe; a close button and Esc; focus kept inside; full
// screen on phones (600 px wide or less).
//
// Every style is set through CSSOM (`element.style`), which a Content-Security-Policy without
// 'unsafe-inline' in style-src still allows; the spinner turns with the Web Animations API, so
// no <style> element, style attribute, stylesheet or font is ever added to the merchant's page.
// The modal lives in an open shadow root, so the page's CSS does not reach it.

import { texts } from "./i18n.js";

const PHONE = "(max-width: 600px)";
const FONT =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", sans-serif';
const BLUE = "#2563eb";

function el(tag, style, props) {
  const node = document.createElement(tag);
  Object.assign(node.style, style);
  if (props) Object.assign(node, props);
  return node;
}

const RESET = {
  boxSizing: "border-box",
  margin: "0",
  padding: "0",
  border: "0",
  fontFamily: FONT,
  fontSize: "15px",
  fontWeight: "400",
  fontStyle: "normal",
  lineHeight: "1.4",
  letterSpacing: "normal",
  textTransform: "none",
  textAlign: "left",
  color: "#0f172a",
};

function media(query) {
  return typeof window.matchMedia === "function" ? window.matchMedia(query) : null;
}

/**
 * Open the modal at once, in its loading state.
 * @param {{locale?: string, testMode: boolean, onCloseRequest: () => void}} options
 */
export function openModal({ locale, testMode, onCloseRequest }) {
  const t = texts(locale);
  const doc = document;
  const html = doc.documentElement;
  const opener = doc.activeElement;

  const host = el("div", { all: "initial" });
  host.setAttribute("data-ktwidget", "modal");
  const root = typeof host.attachShadow === "function" ? host.attachShadow({ mode: "open" }) : host;

  const overlay = el("div", {
    ...RESET,
    position: "fixed",
    top: "0",
    right: "0",
    bottom: "0",
    left: "0",
    zIndex: "2147483647",
    display: "flex",
    alignItems: "center",
    justifyContent: "center",
    background: "rgba(15, 23, 42, 0.6)",
  });
  const dialog = el("div", {
    ...RESET,
    position: "relative",
    display: "flex",
    flexDirection: "column",
    width: "100%",
    background: "#ffffff",
    overflow: "hidden",
    boxShadow: "0 24px 64px rgba(0, 0, 0, 0.35)",
  });
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-modal", "true");
  dialog.setAttribute("aria-label", t.title);

  const header = el("div", {
    ...RESET,
    display: "flex",
    alignItems: "center",
    gap: "8px",
    flex: "0 0 auto",
    height: "48px",
    padding: "0 4px 0 16px",
    borderBottom: "1px solid #e2e8f0",
  });
  header.append(el("span", { ...RESET, fontWeight: "600", flex: "1 1 auto" }, { textContent: t.title }));
  if (testMode) {
    header.append(
      el(
        "span",
        {
          ...RESET,
          fontSize: "12px",
          padding: "2px 8px",
          borderRadius: "999px",
          background: "#fef3c7",
          color: "#92400e",
        },
        { textContent: t.test },
      ),
    );
  }
  const closeButton = el(
    "button",
    {
      ...RESET,
      width: "40px",
      height: "40px",
      flex: "0 0 auto",
      borderRadius: "8px",
      background: "transparent",
      color: "#475569",
      fontSize: "28px",
      lineHeight: "40px",
      textAlign: "center",
      cursor: "pointer",
    },
    { type: "button", textContent: "\u00d7", title: t.close },
  );
  closeButton.setAttribute("aria-label", t.close);
  closeButton.setAttribute("data-ktwidget", "close");
  header.append(closeButton);

  const body = el("div", { ...RESET, position: "relative", flex: "1 1 auto", minHeight: "0" });
  const panel = el("div", {
    ...RESET,
    position: "absolute",
    top: "0",
    right: "0",
    bottom: "0",
    left: "0",
    display: "flex",
    flexDirection: "column",
    alignItems: "center",
    justifyContent: "center",
    gap: "16px",
    padding: "24px",
    textAlign: "center",
  });
  panel.setAttribute("role", "status");
  panel.setAttribute("aria-live", "polite");
  const spinner = el("div", {
    ...RESET,
    width: "40px",
    height: "40px",
    borderRadius: "50%",
    border: "4px solid #e2e8f0",
    borderTopColor: BLUE,
  });
  spinner.setAttribute("aria-hidden", "true");
  const message = el("p", { ...RESET, textAlign: "center", color: "#334155" }, { textContent: t.loading });
  panel.append(spinner, message);
  body.append(panel);
  dialog.append(header, body);

  // Tab from the last element comes back to the first one, Shift+Tab from the first to the last.
  const sentinel = () => el("div", { position: "fixed", width: "1px", height: "1px", opacity: "0" }, { tabIndex: 0 });
  const before = sentinel();
  const after = sentinel();
  overlay.append(before, dialog, after);
  root.append(overlay);

  let frame = null;
  let errorButton = null;
  let open = true;
  const spin = startSpinner(spinner);
  const lastFocusable = () =>
    frame && frame.style.visibility !== "hidden" ? frame : errorButton || closeButton;
  before.addEventListener("focus", () => lastFocusable().focus());
  after.addEventListener("focus", () => closeButton.focus());
  closeButton.addEventListener("click", () => onCloseRequest());

  // A page without <meta name="viewport"> (the seed's example has none) is laid out 980 px wide
  // on a phone and shown zoomed out, so the modal would be tiny: while it is open, such a page
  // gets a device-width viewport, removed again on close.
  let viewport = null;
  if (window.screen && window.screen.width <= 600 && !doc.querySelector('meta[name="viewport"]')) {
    viewport = doc.createElement("meta");
    viewport.name = "viewport";
    viewport.content = "width=device-width, initial-scale=1";
    (doc.head || html).append(viewport);
  }

  const phone = media(PHONE);
  const layout = () => {
    const small = (phone ? phone.matches : false) || (window.screen && window.screen.width <= 600);
    overlay.style.padding = small ? "0" : "16px";
    Object.assign(dialog.style, {
      maxWidth: small ? "none" : "480px",
      height: small ? "100%" : "720px",
      maxHeight: "100%",
      borderRadius: small ? "0" : "12px",
    });
  };
  layout();
  if (phone) {
    if (phone.addEventListener) phone.addEventListener("change", layout);
    else phone.addListener(layout);
  }

  const onKey = (event) => {
    if (event.key === "Escape" || event.key === "Esc") {
      event.preventDefault();
      onCloseRequest();
    }
  };
  // Focus that leaves the modal (a click on the page behind, a screen reader jump) comes back.
  const onFocusIn = (event) => {
    if (event.target !== host && !host.contains(event.target)) closeButton.focus();
  };
  doc.addEventListener("keydown", onKey, true);
  doc.addEventListener("focusin", onFocusIn, true);

  const scroll = html.style.overflow;
  html.style.overflow = "hidden";
  (doc.body || html).append(host);
  closeButton.focus();

  function showPanel(nodes) {
    spin.stop();
    panel.replaceChildren(...nodes);
    panel.style.display = "flex";
  }

  return {
    host,
    /** Load the gateway's page; the spinner stays until it has loaded. */
    showFrame(url) {
      if (!open) return null;
      message.textContent = t.loading;
      frame = el("iframe", {
        ...RESET,
        display: "block",
        width: "100%",
        height: "100%",
        visibility: "hidden",
        background: "#ffffff",
      });
      frame.title = t.title;
      frame.setAttribute("allow", "payment");
      frame.setAttribute("data-ktwidget", "frame");
      frame.addEventListener("load", () => {
        if (!open || !frame) return;
        spin.stop();
        panel.style.display = "none";
        frame.style.visibility = "visible";
        const active = root === host ? doc.activeElement : root.activeElement;
        if (!active || active === closeButton || active === doc.body) frame.focus();
      });
      frame.src = url;
      body.append(frame);
      return frame;
    },
    /** Replace the loading state with a short message for the customer and a close button. */
    showError(text) {
      if (!open) return;
      if (frame) frame.remove();
      frame = null;
      errorButton = el(
        "button",
        {
          ...RESET,
          padding: "10px 24px",
          borderRadius: "8px",
          background: BLUE,
          color: "#ffffff",
          cursor: "pointer",
          fontWeight: "600",
        },
        { type: "button", textContent: t.close },
      );
      errorButton.addEventListener("click", () => onCloseRequest());
      showPanel([
        el("p", { ...RESET, fontSize: "17px", fontWeight: "600", textAlign: "center" }, { textContent: t.failed }),
        el("p", { ...RESET, textAlign: "center", color: "#334155" }, { textContent: text }),
        errorButton,
      ]);
      panel.setAttribute("role", "alert");
      errorButton.focus();
    },
    get isOpen() {
      return open;
    },
    close() {
      if (!open) return;
      open = false;
      spin.stop();
      doc.removeEventListener("keydown", onKey, true);
      doc.removeEventListener("focusin", onFocusIn, true);
      if (phone) {
        if (phone.removeEventListener) phone.removeEventListener("change", layout);
        else phone.removeListener(layout);
      }
      host.remove();
      if (viewport) viewport.remove();
      html.style.overflow = scroll;
      if (opener && typeof opener.focus === "function" && opener !== doc.body) {
        try {
          opener.focus();
        } catch {
          // the element may have gone; nothing to restore then
        }
      }
    },
  };
}

function startSpinner(node) {
  if (typeof node.animate !== "function") return { stop() {} };
  const reduced = media("(prefers-reduced-motion: reduce)");
  const animation =
    reduced && reduced.matches
      ? node.animate([{ opacity: 1 }, { opacity: 0.35 }, { opacity: 1 }], {
          duration: 1600,
          iterations: Infinity,
        })
      : node.animate([{ transform: "rotate(0deg)" }, { transform: "rotate(360deg)" }], {
          duration: 800,
          iterations: Infinity,
          easing: "linear",
        });
  return {
    stop() {
      animation.cancel();
    },
  };
}
