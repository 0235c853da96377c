// libsodium's crypto_box_seal, built from audited primitives (@noble/*):
//   epk, esk = a fresh X25519 key pair
//   nonce    = BLAKE2b-192(epk || pk)
//   k        = HSalsa20(X25519(esk, pk), 0^16)            (crypto_box_beforenm)
//   sealed   = epk || XSalsa20-Poly1305(k, nonce, message) (MAC first, as crypto_box_easy)
// The gateway opens it with PyNaCl's SealedBox; widget/test/seal.test.mjs opens it with
// libsodium-wrappers' crypto_box_seal_open.

import { xsalsa20poly1305, hsalsa } from "@noble/ciphers/salsa.js";
import { x25519 } from "./x25519.js";
import { blake2b } from "@noble/hashes/blake2.js";

export const PUBLIC_KEY_BYTES = 32;
export const SEAL_BYTES = 48; // ephemeral public key (32) + Poly1305 tag (16)

// "expand 32-byte k" as little-endian 32-bit words.
const SIGMA = new Uint32Array([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);

function words(bytes) {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  return new Uint32Array(copy.buffer);
}

function boxKey(sharedSecret) {
  const out = new Uint32Array(8);
  hsalsa(SIGMA, words(sharedSecret), new Uint32Array(4), out);
  return new Uint8Array(out.buffer);
}

function randomSecretKey() {
  const key = new Uint8Array(32);
  globalThis.crypto.getRandomValues(key);
  return key;
}

/**
 * crypto_box_seal(message, publicKey).
 * @param {Uint8Array} message
 * @param {Uint8Array} publicKey the recipient's 32-byte X25519 public key
 * @param {Uint8Array} [ephemeralSecret] only for tests; a fresh random key by default
 * @returns {Uint8Array} message.length + 48 bytes
 */
export function sealBox(message, publicKey, ephemeralSecret = randomSecretKey()) {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new TypeError("the public key must be 32 bytes");
  }
  const ephemeralPublic = x25519.getPublicKey(ephemeralSecret);
  const shared = x25519.getSharedSecret(ephemeralSecret, publicKey); // throws on low-order keys
  const nonceInput = new Uint8Array(64);
  nonceInput.set(ephemeralPublic, 0);
  nonceInput.set(publicKey, 32);
  const nonce = blake2b(nonceInput, { dkLen: 24 });
  const key = boxKey(shared);
  const boxed = xsalsa20poly1305(key, nonce).encrypt(message);
  shared.fill(0);
  key.fill(0);
  ephemeralSecret.fill(0);
  const sealed = new Uint8Array(SEAL_BYTES + message.length);
  sealed.set(ephemeralPublic, 0);
  sealed.set(boxed, 32);
  return sealed;
}

/** Standard padded base64 (as libsodium's ORIGINAL variant and Python's b64encode). */
export function toBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Decode standard padded base64; null when the text is not exactly that. */
export function fromBase64(text) {
  if (typeof text !== "string" || text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
    return null;
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/**
 * Seal a JSON text for an app_key (base64 of the app's public key); the API's `payload` field.
 * @param {string} json
 * @param {string} appKey
 * @returns {string} base64 of the sealed box
 */
export function sealJson(json, appKey) {
  const publicKey = fromBase64(appKey);
  if (!publicKey || publicKey.length !== PUBLIC_KEY_BYTES) {
    throw new TypeError("app_key must be the base64 of a 32-byte public key");
  }
  return toBase64(sealBox(new TextEncoder().encode(json), publicKey));
}
