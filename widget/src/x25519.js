// X25519 (RFC 7748) from @noble/curves' Montgomery ladder, configured here rather than imported
// from "@noble/curves/ed25519.js", which would also bundle the whole Edwards curve (about 7 KB
// gzipped) that a sealed box never uses. widget/test/seal.test.mjs checks it against the RFC's
// test vectors and against noble's own x25519.

import { montgomery } from "@noble/curves/abstract/montgomery.js";

const P = 2n ** 255n - 19n;

/** x^(P-2) mod P, the field inverse, by square-and-multiply (a few per key: speed is moot). */
function powPminus2(x) {
  let result = 1n;
  let base = x % P;
  for (let e = P - 2n; e > 0n; e >>= 1n) {
    if (e & 1n) result = (result * base) % P;
    base = (base * base) % P;
  }
  return result;
}

export const x25519 = montgomery({
  P,
  type: "x25519",
  adjustScalarBytes(bytes) {
    bytes[0] &= 248;
    bytes[31] &= 127;
    bytes[31] |= 64;
    return bytes;
  },
  powPminus2,
});
