// The conventions between the widget and the gateway's pages (widget/src/protocol.js).

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  baseFromScriptUrl,
  frameUrl,
  httpUrl,
  isResult,
  normalizeBaseUrl,
  readMessage,
} from "../src/protocol.js";

const GATEWAY = "https://pay.example";
const HASH = "af7ed500aa9f2132fae4b63e936af641bcc4ebaf";
const frameWindow = { name: "the iframe's window" };
const event = (data, overrides = {}) => ({ origin: GATEWAY, source: frameWindow, data, ...overrides });
const status = (value, extra = {}) => ({
  source: "ktwidget",
  type: "ktwidget:status",
  transaction_hash: HASH,
  status: value,
  ...extra,
});
const read = (e) => readMessage(e, GATEWAY, frameWindow, HASH);

describe("frameUrl", () => {
  it("appends the merchant's origin, URL-encoded", () => {
    assert.equal(
      frameUrl("https://pay.example/pay/abc", "https://shop.example:8443"),
      "https://pay.example/pay/abc?origin=https%3A%2F%2Fshop.example%3A8443",
    );
  });
  it("joins an existing query and keeps a fragment last", () => {
    assert.equal(
      frameUrl("https://pay.example/pay/abc?t=1#top", "http://localhost:3000"),
      "https://pay.example/pay/abc?t=1&origin=http%3A%2F%2Flocalhost%3A3000#top",
    );
    assert.equal(frameUrl("https://pay.example/p?", "https://s.example"), "https://pay.example/p?origin=https%3A%2F%2Fs.example");
  });
  it("adds lang when the merchant chose a locale", () => {
    assert.equal(
      frameUrl("https://pay.example/p", "https://s.example", "kk"),
      "https://pay.example/p?origin=https%3A%2F%2Fs.example&lang=kk",
    );
  });
});

describe("base URLs", () => {
  it("derives the gateway from the script's address", () => {
    assert.equal(baseFromScriptUrl("https://pay.example/static/ktwidget.js"), "https://pay.example");
    assert.equal(baseFromScriptUrl("http://127.0.0.1:8000/static/ktwidget.mjs?v=2"), "http://127.0.0.1:8000");
    assert.equal(baseFromScriptUrl("https://example.kz/pay/static/ktwidget.js"), "https://example.kz/pay");
    assert.equal(baseFromScriptUrl("https://cdn.example/libs/ktwidget.js"), "https://cdn.example");
    assert.equal(baseFromScriptUrl("file:///tmp/ktwidget.js"), null);
    assert.equal(baseFromScriptUrl(null), null);
  });
  it("normalises a merchant's baseUrl", () => {
    assert.equal(normalizeBaseUrl("https://pay.example/"), "https://pay.example");
    assert.equal(normalizeBaseUrl("https://example.kz/pay/"), "https://example.kz/pay");
    assert.equal(normalizeBaseUrl("javascript:alert(1)"), null);
    assert.equal(normalizeBaseUrl("pay.example"), null);
  });
  it("accepts only absolute http(s) URLs", () => {
    assert.ok(httpUrl("https://shop.example/ok"));
    assert.ok(httpUrl("http://localhost:3000/"));
    for (const bad of ["javascript:alert(1)", "data:text/html,x", "//shop.example", "/ok", "", null, 5]) {
      assert.equal(httpUrl(bad), null, String(bad));
    }
  });
});

describe("readMessage", () => {
  it("accepts a status from the gateway's frame", () => {
    assert.deepEqual(read(event(status("success"))), { type: "ktwidget:status", status: "success" });
    assert.deepEqual(read(event(status("authorized"))), { type: "ktwidget:status", status: "authorized" });
  });

  it("accepts navigate with an http(s) URL only", () => {
    const navigate = (url) => status("error", { type: "ktwidget:navigate", url });
    assert.deepEqual(read(event(navigate("https://shop.example/failed?o=1"))), {
      type: "ktwidget:navigate",
      status: "error",
      url: "https://shop.example/failed?o=1",
    });
    assert.equal(read(event(navigate("javascript:alert(1)"))).url, null);
    assert.equal(read(event(navigate(undefined))).url, null);
  });

  it("accepts a close request", () => {
    assert.deepEqual(read(event({ source: "ktwidget", type: "ktwidget:close", transaction_hash: HASH })), {
      type: "ktwidget:close",
    });
  });

  it("refuses another origin, another window, another sender or another transaction", () => {
    assert.equal(read(event(status("success"), { origin: "https://evil.example" })), null);
    assert.equal(read(event(status("success"), { origin: "null" })), null);
    assert.equal(read(event(status("success"), { source: {} })), null);
    assert.equal(read(event(status("success"), { source: null })), null);
    assert.equal(read(event({ ...status("success"), source: "other" })), null);
    assert.equal(read(event(status("success", { transaction_hash: "0".repeat(40) }))), null);
    assert.equal(readMessage(event(status("success")), GATEWAY, null, HASH), null);
    assert.equal(readMessage(event(status("success")), null, frameWindow, HASH), null);
  });

  it("refuses malformed data", () => {
    for (const data of [null, "ktwidget:status", 5, [], { source: "ktwidget" }, status("paid"), status("success", { type: "x" })]) {
      assert.equal(read(event(data)), null, JSON.stringify(data));
    }
  });

  it("knows the result statuses", () => {
    assert.deepEqual(
      ["pending", "authorized", "success", "completed", "error", "denied", "closed"].filter(isResult),
      ["success", "completed", "error", "denied"],
    );
  });
});
