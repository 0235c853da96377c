// The built files the gateway serves (npm run build writes them; see widget/build.mjs).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import vm from "node:vm";
import { gzipSync } from "node:zlib";

const ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));
const STATIC = join(ROOT, "src", "ktwidget", "http", "static");
const CLASSIC = join(STATIC, "ktwidget.js");
const MODULE = join(STATIC, "ktwidget.mjs");
const LIMIT = 30 * 1024; // the widget, crypto included, at most 30 KB gzipped
const APP_KEY = "h09acJ8QSLPw40XZxdNfLbq4hXzWInC5zXL319RdXUI=";
const APP_ID = "e2d3d70d53c67bcd377266f74e98587c";

const read = (path) => {
  try {
    return readFileSync(path);
  } catch {
    assert.fail(`${path} is missing: run \`npm run build\` first`);
  }
};

describe("the built widget", () => {
  it("is at most 30 KB gzipped", () => {
    for (const path of [CLASSIC, MODULE]) {
      const size = gzipSync(read(path), { level: 9 }).length;
      assert.ok(size <= LIMIT, `${path}: ${size} bytes gzipped, over ${LIMIT}`);
    }
  });

  it("adds no stylesheet, style attribute or markup a strict CSP would block", () => {
    for (const path of [CLASSIC, MODULE]) {
      const code = read(path).toString("utf8");
      for (const banned of ['"style"', "cssText", "innerHTML", "insertRule", "insertAdjacentHTML", "eval(", "new Function"]) {
        assert.ok(!code.includes(banned), `${path} contains ${banned}`);
      }
    }
  });

  it("defines window.ApiClient synchronously, with the gateway taken from the script's address", () => {
    // A page's globals, as far as loading the script needs them.
    const context = {
      document: { currentScript: { src: "https://pay.example/static/ktwidget.js" } },
      URL,
      atob,
      btoa,
      TextEncoder,
      crypto: globalThis.crypto,
    };
    context.window = context;
    vm.createContext(context);
    vm.runInContext(read(CLASSIC).toString("utf8"), context);
    assert.equal(typeof context.window.ApiClient, "function");
    const client = vm.runInContext(`new ApiClient(${JSON.stringify(APP_KEY)}, ${JSON.stringify(APP_ID)}, true)`, context);
    assert.equal(client.baseUrl, "https://pay.example");
    assert.equal(client.test_mode, true);
  });

  it("exports ApiClient from the ES module, and refuses bad parameters before any request", async () => {
    const { ApiClient, KtwidgetError, validateParams } = await import(pathToFileURL(MODULE).href);
    assert.equal(typeof ApiClient, "function");
    assert.deepEqual(validateParams({ order_id: "1", amount: 1000, type: "ecom" }), []);
    const fetched = [];
    const realFetch = globalThis.fetch;
    globalThis.fetch = (...args) => {
      fetched.push(args);
      return Promise.reject(new Error("no network in this test"));
    };
    try {
      const client = new ApiClient(APP_KEY, APP_ID, true, { baseUrl: "https://pay.example" });
      await assert.rejects(client.createTransaction({ order_id: "1", ammount: 1000, amount: true, type: "ecom" }), (error) => {
        assert.ok(error instanceof KtwidgetError);
        assert.equal(error.status, 422);
        assert.equal(error.type, "/problems/invalid-parameters");
        assert.deepEqual(error.errors, [
          { field: "ammount", message: "is not a known parameter" },
          { field: "amount", message: "must be a number" },
        ]);
        return true;
      });
    } finally {
      globalThis.fetch = realFetch;
    }
    assert.deepEqual(fetched, []);
  });

  it("refuses misconfigured clients at once", async () => {
    const { ApiClient } = await import(pathToFileURL(MODULE).href);
    assert.throws(() => new ApiClient("short", APP_ID, true), /app_key/);
    assert.throws(() => new ApiClient(APP_KEY, APP_ID.toUpperCase(), true), /app_id/);
    assert.throws(() => new ApiClient(APP_KEY, APP_ID, "true"), /test_mode/);
    assert.throws(() => new ApiClient(APP_KEY, APP_ID, true, { onSucces() {} }), /unknown option onSucces/);
    assert.throws(() => new ApiClient(APP_KEY, APP_ID, true, { onSuccess: "x" }), /onSuccess/);
    assert.throws(() => new ApiClient(APP_KEY, APP_ID, true, { baseUrl: "javascript:x" }), /baseUrl/);
  });
});
