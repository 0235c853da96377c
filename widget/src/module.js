// Entry of ktwidget.mjs:  import { ApiClient } from "{gateway}/static/ktwidget.mjs";

import { ApiClient, KtwidgetError, setDefaultBaseUrl } from "./client.js";
import { baseFromScriptUrl } from "./protocol.js";

setDefaultBaseUrl(baseFromScriptUrl(import.meta.url));

export { ApiClient, KtwidgetError };
export { validateParams } from "./validate.js";
