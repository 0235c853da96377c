// The widget's sealed box must open with libsodium (crypto_box_seal_open), byte for byte what
// libsodium itself would produce for the same ephemeral key, and X25519 must meet RFC 7748.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { before, describe, it } from "node:test";

import { x25519 as nobleX25519 } from "@noble/curves/ed25519.js";

import { SEAL_BYTES, fromBase64, sealBox, sealJson, toBase64 } from "../src/seal.js";
import { x25519 } from "../src/x25519.js";

// CommonJS: the ESM entry of libsodium-wrappers 0.7.16 imports a file the package lacks.
const sodium = createRequire(import.meta.url)("libsodium-wrappers");
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const unhex = (text) => new Uint8Array(Buffer.from(text, "hex"));

before(async () => {
  await sodium.ready;
});

describe("x25519", () => {
  it("meets the RFC 7748 section 6.1 Diffie-Hellman vectors", () => {
    const aliceSecret = unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
    const bobSecret = unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
    const alicePublic = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    const bobPublic = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    assert.equal(hex(x25519.getPublicKey(aliceSecret)), alicePublic);
    assert.equal(hex(x25519.getPublicKey(bobSecret)), bobPublic);
    assert.equal(hex(x25519.getSharedSecret(aliceSecret, unhex(bobPublic))), shared);
    assert.equal(hex(x25519.getSharedSecret(bobSecret, unhex(alicePublic))), shared);
  });

  it("agrees with noble's own x25519 and with libsodium", () => {
    for (let i = 0; i < 20; i++) {
      const secret = sodium.randombytes_buf(32);
      const peer = sodium.crypto_box_keypair().publicKey;
      assert.equal(hex(x25519.getPublicKey(secret)), hex(nobleX25519.getPublicKey(secret)));
      assert.equal(hex(x25519.getPublicKey(secret)), hex(sodium.crypto_scalarmult_base(secret)));
      assert.equal(hex(x25519.getSharedSecret(secret, peer)), hex(sodium.crypto_scalarmult(secret, peer)));
    }
  });

  it("refuses a low-order public key", () => {
    assert.throws(() => sealBox(new Uint8Array(1), new Uint8Array(32)));
  });
});

describe("sealBox", () => {
  it("opens with libsodium's crypto_box_seal_open", () => {
    const keys = sodium.crypto_box_keypair();
    for (const text of ["", "x", '{"order_id":"1","amount":1000}', "й".repeat(5000)]) {
      const message = new TextEncoder().encode(text);
      const sealed = sealBox(message, keys.publicKey);
      assert.equal(sealed.length, message.length + SEAL_BYTES);
      const opened = sodium.crypto_box_seal_open(sealed, keys.publicKey, keys.privateKey);
      assert.equal(new TextDecoder().decode(opened), text);
    }
  });

  it("is what libsodium computes for the same ephemeral key", () => {
    const recipient = sodium.crypto_box_keypair();
    const ephemeral = sodium.crypto_box_keypair();
    const message = sodium.from_string('{"order_id":"42","amount":10.5,"type":"ecom"}');
    // crypto_box_seal = epk || crypto_box_easy(m, blake2b(epk || pk, 24), pk, esk)
    const nonceInput = new Uint8Array([...ephemeral.publicKey, ...recipient.publicKey]);
    const nonce = sodium.crypto_generichash(24, nonceInput);
    const expected = new Uint8Array([
      ...ephemeral.publicKey,
      ...sodium.crypto_box_easy(message, nonce, recipient.publicKey, ephemeral.privateKey),
    ]);
    const sealed = sealBox(message, recipient.publicKey, new Uint8Array(ephemeral.privateKey));
    assert.equal(hex(sealed), hex(expected));
  });

  it("uses a fresh ephemeral key every time", () => {
    const keys = sodium.crypto_box_keypair();
    const message = new Uint8Array(8);
    const a = sealBox(message, keys.publicKey);
    const b = sealBox(message, keys.publicKey);
    assert.notEqual(hex(a.subarray(0, 32)), hex(b.subarray(0, 32)));
  });

  it("refuses a key that is not 32 bytes", () => {
    assert.throws(() => sealBox(new Uint8Array(1), new Uint8Array(31)), /32 bytes/);
  });
});

describe("sealJson and base64", () => {
  it("seals for a base64 app_key into base64 that libsodium opens", () => {
    const keys = sodium.crypto_box_keypair();
    const appKey = sodium.to_base64(keys.publicKey, sodium.base64_variants.ORIGINAL);
    const json = JSON.stringify({ order_id: "1", amount: 1000, type: "ecom", description: "Қазақша" });
    const payload = sealJson(json, appKey);
    assert.match(payload, /^[A-Za-z0-9+/]+={0,2}$/);
    const sealed = sodium.from_base64(payload, sodium.base64_variants.ORIGINAL);
    assert.equal(sodium.to_string(sodium.crypto_box_seal_open(sealed, keys.publicKey, keys.privateKey)), json);
  });

  it("refuses an app_key that is not base64 of 32 bytes", () => {
    assert.throws(() => sealJson("{}", "not base64!"), /app_key/);
    assert.throws(() => sealJson("{}", "AAAA"), /app_key/);
  });

  it("round-trips base64 like Buffer does", () => {
    for (const length of [0, 1, 2, 3, 31, 32, 33, 70000]) {
      const bytes = sodium.randombytes_buf(length);
      const text = toBase64(bytes);
      assert.equal(text, Buffer.from(bytes).toString("base64"));
      assert.equal(hex(fromBase64(text)), hex(bytes));
    }
    assert.equal(fromBase64("abc"), null);
    assert.equal(fromBase64("ab-_"), null);
    assert.equal(fromBase64("a=bc"), null);
  });
});
