// Seal a JSON payload the way the browser widget does, with libsodium-wrappers:
//   node seal.cjs <app_key> [json]    (the JSON is read from stdin when not given)
// and print the base64 (ORIGINAL variant) of crypto_box_seal. test_interop.py posts it.
//
// CommonJS on purpose: the ESM entry of libsodium-wrappers 0.7.16 imports "./libsodium.mjs",
// which the package does not ship, so `import sodium from "libsodium-wrappers"` fails under Node.
"use strict";

const { readFileSync } = require("node:fs");
const sodium = require("libsodium-wrappers");

async function main() {
  const appKey = process.argv[2];
  if (!appKey) {
    process.stderr.write("usage: node seal.cjs <app_key> [json]\n");
    process.exit(2);
  }
  const json = process.argv[3] ?? readFileSync(0, "utf8");
  await sodium.ready;
  const publicKey = sodium.from_base64(appKey, sodium.base64_variants.ORIGINAL);
  const box = sodium.crypto_box_seal(sodium.from_string(json), publicKey);
  process.stdout.write(sodium.to_base64(box, sodium.base64_variants.ORIGINAL) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
