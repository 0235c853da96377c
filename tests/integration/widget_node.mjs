// The browser widget's own code, run by node for the Python tests (test_widget_bundle.py):
//   {"op": "seal", "app_key": "...", "json": "..."}         -> {"payload": "<base64>"}
//   {"op": "validate", "test_mode": true, "cases": ["<JSON text>", ...]}
//       -> {"results": [{"json": "<what the widget would seal>", "errors": [{field, message}]}]}
// The request comes on stdin, the answer goes to stdout.

import { readFileSync } from "node:fs";

import { sealJson } from "../../widget/src/seal.js";
import { validateParams } from "../../widget/src/validate.js";

const request = JSON.parse(readFileSync(0, "utf8"));
let answer;
if (request.op === "seal") {
  answer = { payload: sealJson(request.json, request.app_key) };
} else if (request.op === "validate") {
  answer = {
    results: request.cases.map((text) => {
      const params = JSON.parse(text);
      return { json: JSON.stringify(params), errors: validateParams(params, { testMode: request.test_mode }) };
    }),
  };
} else {
  throw new Error(`unknown op ${request.op}`);
}
process.stdout.write(JSON.stringify(answer));
