// Build the browser widget into the gateway's static folder:
//   src/ktwidget/http/static/ktwidget.js   classic script (IIFE) defining window.ApiClient
//   src/ktwidget/http/static/ktwidget.mjs  ES module exporting ApiClient
// Run by `npm run build` (the Makefile's set-up does it). The outputs are not committed.

import { build } from "esbuild";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
export const OUT_DIR = join(root, "src", "ktwidget", "http", "static");
const { version } = JSON.parse(
  await import("node:fs").then((fs) => fs.readFileSync(join(root, "package.json"), "utf8")),
);

const common = {
  bundle: true,
  minify: true,
  target: ["es2020"],
  platform: "browser",
  legalComments: "eof",
  sourcemap: false,
  logLevel: "warning",
  banner: { js: `/* ktwidget ${version}: browser widget of the ktwidget payment gateway */` },
};

await mkdir(OUT_DIR, { recursive: true });
await Promise.all([
  build({
    ...common,
    entryPoints: [join(root, "widget", "src", "classic.js")],
    outfile: join(OUT_DIR, "ktwidget.js"),
    format: "iife",
  }),
  build({
    ...common,
    entryPoints: [join(root, "widget", "src", "module.js")],
    outfile: join(OUT_DIR, "ktwidget.mjs"),
    format: "esm",
  }),
]);
