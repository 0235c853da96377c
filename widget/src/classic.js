// Entry of ktwidget.js, a classic script: defines window.ApiClient synchronously, so a page may
// call `new ApiClient(...)` from an inline handler as soon as the <script> tag has run.

import { ApiClient, setDefaultBaseUrl } from "./client.js";
import { baseFromScriptUrl } from "./protocol.js";

function scriptUrl() {
  const current = document.currentScript; // set only while this script runs for the first time
  if (current && current.src) return current.src;
  const scripts = document.querySelectorAll('script[src*="ktwidget"]');
  return scripts.length ? scripts[scripts.length - 1].src : null;
}

setDefaultBaseUrl(baseFromScriptUrl(scriptUrl()));
window.ApiClient = ApiClient;
