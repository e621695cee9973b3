// Bundles the widgets' ES modules and CSS into ../ai_sessions/static (chat.js/.css, panel.js/.css).
// KaTeX's fonts are inlined as woff2 data URLs (no network at runtime; woff/ttf fallbacks dropped).
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const watch = process.argv.includes("--watch");

const katexWoff2Only = {
  name: "katex-woff2-only",
  setup(build) {
    build.onLoad({ filter: /katex[\\/]dist[\\/]katex\.css$/ }, async (args) => {
      const css = await readFile(args.path, "utf8");
      const slim = css.replace(/,\s*url\([^)]*\.(woff|ttf)\)\s*format\("(woff|truetype)"\)/g, "");
      return { contents: slim, loader: "css", resolveDir: dirname(args.path) };
    });
  },
};

const options = {
  entryPoints: { chat: join(here, "src/chat.ts"), panel: join(here, "src/panel.ts") },
  outdir: join(here, "../ai_sessions/static"),
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: !watch,
  sourcemap: false,
  legalComments: "none",
  loader: { ".woff2": "dataurl" },
  plugins: [katexWoff2Only],
  logLevel: "info",
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
