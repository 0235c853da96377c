// The widget's parameter checks (widget/src/validate.js). The same cases run against the Python
// validator in tests/integration/test_widget_parity.py.

import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { parseAmount, validateParams } from "../src/validate.js";

const SEED = {
  order_id: "1",
  amount: 1000,
  type: "service",
  service: { service_id: 1, contract_value: "1111111" },
  callback_back_url: "widget.nplus.tech",
  description: "Transaction from KTPAY",
};

const fields = (params, options) => validateParams(params, options).map((e) => e.field);
const messageFor = (params, field, options) =>
  validateParams(params, options).find((e) => e.field === field)?.message;

describe("validateParams", () => {
  it("accepts the seed's example", () => {
    assert.deepEqual(validateParams(SEED), []);
  });

  it("accepts a minimal ecom payment, with null counting as absent", () => {
    assert.deepEqual(validateParams({ order_id: "42", amount: 10.5, type: "ecom" }), []);
    assert.deepEqual(
      validateParams({ order_id: "42", amount: 1, type: "ecom", service: null, description: null }),
      [],
    );
  });

  it("refuses what is not an object", () => {
    for (const value of [null, undefined, "x", 1, [], true]) {
      assert.deepEqual(validateParams(value), [{ field: "payload", message: "must be a JSON object" }]);
    }
  });

  it("refuses unknown fields, sorted, before the rest", () => {
    const errors = validateParams({ ...SEED, ammount: 1, zeta: 2, service: { ...SEED.service, x: 1 } });
    assert.deepEqual(errors, [
      { field: "ammount", message: "is not a known parameter" },
      { field: "zeta", message: "is not a known parameter" },
      { field: "service.x", message: "is not a known parameter" },
    ]);
  });

  it("names every missing required field", () => {
    assert.deepEqual(validateParams({}), [
      { field: "order_id", message: "is required" },
      { field: "amount", message: "is required" },
      { field: "type", message: "is required" },
    ]);
  });

  it("checks order_id", () => {
    const base = { amount: 1, type: "ecom" };
    assert.equal(messageFor({ ...base, order_id: 1 }, "order_id"), "must be a string");
    assert.equal(messageFor({ ...base, order_id: "" }, "order_id"), "must be 1 to 128 characters long");
    assert.equal(messageFor({ ...base, order_id: "x".repeat(129) }, "order_id"), "must be 1 to 128 characters long");
    assert.deepEqual(fields({ ...base, order_id: "x".repeat(128) }), []);
    // 128 code points, 256 UTF-16 units: Python counts code points, so does the widget
    assert.deepEqual(fields({ ...base, order_id: "😀".repeat(128) }), []);
    assert.equal(messageFor({ ...base, order_id: "a\nb" }, "order_id"), "must not contain control characters");
    assert.equal(messageFor({ ...base, order_id: "a\u0085b" }, "order_id"), "must not contain control characters");
  });

  it("checks amount like the gateway", () => {
    const base = { order_id: "1", type: "ecom" };
    const amount = (value) => messageFor({ ...base, amount: value }, "amount");
    for (const ok of [1, 1000, 10.5, 0.01, 99.99, 1e15, 1.1]) assert.equal(amount(ok), undefined, String(ok));
    assert.equal(amount(true), "must be a number");
    assert.equal(amount("1000"), "must be a number");
    assert.equal(amount(10n), "must be a number");
    assert.equal(amount(NaN), "must be a finite number");
    assert.equal(amount(Infinity), "must be a finite number");
    assert.equal(amount(-Infinity), "must be a finite number");
    assert.equal(amount(0), "must be greater than 0");
    assert.equal(amount(-5), "must be greater than 0");
    assert.equal(amount(1.005), "must have at most 2 decimal places");
    assert.equal(amount(0.1 + 0.2), "must have at most 2 decimal places"); // 0.30000000000000004
    assert.equal(amount(1e-7), "must have at most 2 decimal places");
    assert.equal(amount(1e21), "must be at most 92233720368547758.07");
  });

  it("computes exact minor units", () => {
    assert.equal(parseAmount(10.5).minor, 1050n);
    assert.equal(parseAmount(1000).minor, 100000n);
    assert.equal(parseAmount(0.07).minor, 7n);
    assert.equal(parseAmount(1e16).minor, 10n ** 18n);
  });

  it("checks type and service", () => {
    assert.equal(messageFor({ order_id: "1", amount: 1, type: "shop" }, "type"), "must be 'ecom' or 'service'");
    assert.equal(messageFor({ order_id: "1", amount: 1, type: 7 }, "type"), "must be a string");
    assert.equal(messageFor({ ...SEED, type: "ecom" }, "service"), "is only allowed when type is 'service'");
    assert.equal(messageFor({ ...SEED, service: undefined }, "service"), "is required when type is 'service'");
    assert.equal(messageFor({ ...SEED, service: [1] }, "service"), "must be an object");
    const service = (s) => validateParams({ ...SEED, service: s });
    assert.deepEqual(service({}), [
      { field: "service.service_id", message: "is required" },
      { field: "service.contract_value", message: "is required" },
    ]);
    assert.deepEqual(fields({ ...SEED, type: "shop", service: 5 }), ["type"]);
    const id = (v) => messageFor({ ...SEED, service: { service_id: v, contract_value: "1" } }, "service.service_id");
    assert.equal(id("1"), "must be an integer");
    assert.equal(id(true), "must be an integer");
    assert.equal(id(1.5), "must be a positive integer");
    assert.equal(id(0), "must be a positive integer");
    assert.equal(id(-1), "must be a positive integer");
    assert.equal(id(1e19), "is not an active service");
    assert.equal(id(7), undefined);
    const contract = (v) => messageFor({ ...SEED, service: { service_id: 1, contract_value: v } }, "service.contract_value");
    assert.equal(contract(7771234567), "must be a string");
    assert.equal(contract(""), "must be 1 to 128 printable characters");
    assert.equal(contract("1\t2"), "must be 1 to 128 printable characters");
    assert.equal(contract("x".repeat(129)), "must be 1 to 128 printable characters");
  });

  it("checks redirect URLs like normalize_url", () => {
    const url = (v) => messageFor({ ...SEED, callback_success_url: v }, "callback_success_url");
    for (const ok of [
      "widget.nplus.tech",
      "https://shop.example/ok?x=1#top",
      "http://localhost:8080/ok",
      "shop.example:8443/ok",
      "http://[::1]:8000/",
      "  https://shop.example/  ",
    ]) {
      assert.equal(url(ok), undefined, ok);
    }
    assert.equal(url(""), "must not be empty");
    assert.equal(url("   "), "must not be empty");
    assert.equal(url("https://shop.example/a b"), "must not contain spaces or control characters");
    assert.equal(url("https://shop.example/\u00a0x"), "must not contain spaces or control characters");
    assert.equal(url("/relative/path"), "must be an http or https URL");
    assert.equal(url("javascript://alert(1)"), "must be an http or https URL");
    assert.equal(url("ftp://shop.example/"), "must be an http or https URL");
    assert.equal(url("https:///path"), "must name a host");
    assert.equal(url("https://user:pw@shop.example/"), "must not carry a user name or password");
    assert.equal(url("https://evil.example\\.shop.example/"), "must not contain backslashes");
    assert.equal(url("https://shop.example:99999/"), "is not a valid URL");
    assert.equal(url("https://shop.example:8o/"), "is not a valid URL");
    assert.equal(url("https://[::1/"), "is not a valid URL");
    assert.equal(url(`https://shop.example/${"a".repeat(2048)}`), "must be at most 2048 characters");
    assert.equal(url(5), "must be a string");
  });

  it("wants an https notification URL outside test mode only", () => {
    const post = { ...SEED, callback_post_url: "http://hooks.shop.example/k" };
    assert.deepEqual(validateParams(post, { testMode: true }), []);
    assert.deepEqual(validateParams(post, { testMode: false }), [
      { field: "callback_post_url", message: "must be an https URL in production" },
    ]);
    // private addresses are the gateway's call (the operator may allow them)
    assert.deepEqual(validateParams({ ...SEED, callback_post_url: "http://127.0.0.1:9/" }), []);
  });

  it("checks description", () => {
    assert.equal(messageFor({ ...SEED, description: 5 }, "description"), "must be a string");
    assert.equal(messageFor({ ...SEED, description: "x".repeat(1001) }, "description"), "must be at most 1000 characters");
    assert.deepEqual(fields({ ...SEED, description: "x".repeat(1000) }), []);
  });
});
