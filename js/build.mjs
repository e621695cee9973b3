// Bundles the widgets' ES modules and CSS into ../ai_sessions/static (chat, panel and inspector .js/.css).
// KaTeX's fonts are inlined as woff2 data URLs (no network at runtime; woff/ttf fallbacks dropped).
// chat.js is a small loader (src/chat_loader.ts) carrying the chat's bundle (src/chat.ts) as text, so a
// page imports the chat's code once however many chats it shows (see chat_loader.ts).
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "../ai_sessions/static");
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

const common = {
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

/** Writes chat.css and, from chat.js's text, the loader as chat.js (after each build of the chat). */
const chatLoader = {
  name: "chat-loader",
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length) return;
      const out = (ext) => result.outputFiles.find((f) => f.path.endsWith(ext)).text;
      const source = out(".js");
      const id = createHash("sha256").update(source).digest("hex").slice(0, 16);
      await writeFile(join(outdir, "chat.css"), out(".css"));
      await esbuild.build({
        ...common,
        plugins: [{
          name: "chat-impl",
          setup(b) {
            b.onResolve({ filter: /^ai-sessions:chat-impl$/ }, (args) => ({ path: args.path, namespace: "chat-impl" }));
            b.onLoad({ filter: /.*/, namespace: "chat-impl" }, () => ({
              contents: `export const source = ${JSON.stringify(source)};\nexport const id = ${JSON.stringify(id)};\n`,
              loader: "js",
            }));
          },
        }],
        entryPoints: { chat: join(here, "src/chat_loader.ts") },
        outdir,
      });
    });
  },
};

const builds = [
  { ...common, entryPoints: { chat: join(here, "src/chat.ts") }, outdir, write: false, logLevel: "warning",
    plugins: [...common.plugins, chatLoader] },
  { ...common, entryPoints: { panel: join(here, "src/panel.ts") }, outdir },
  { ...common, entryPoints: { inspector: join(here, "src/inspector.ts") }, outdir },
];

if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
