// Bundles the widgets' front end into ../ai_sessions/static:
// - chat-impl.js, chat.css, fonts/: the chat (src/chat.ts) with its styles and KaTeX's woff2 fonts as files
//   (woff/ttf fallbacks dropped). They are served by ai_sessions' Jupyter server extension and loaded once
//   per page; chat-impl.js ends with `export const buildId`, a hash of the chat's code and styles.
// - chat.js: the chat's anywidget `_esm`, a small loader (src/chat_loader.ts) that knows that build id,
//   so a saved notebook carries a few KB per chat instead of the chat's code.
// - panel.js, panel.css: the hub panel (small; its widget carries them inline); inspector.js / .css the same.
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
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
  logLevel: "info",
};

/** After each build of the chat: writes chat-impl.js (with its build id), chat.css, the fonts and the loader. */
const chatOutputs = {
  name: "chat-outputs",
  setup(build) {
    build.onEnd(async (result) => {
      if (result.errors.length) return;
      const files = result.outputFiles;
      const code = files.find((f) => f.path.endsWith(".js")).text;
      const css = files.find((f) => f.path.endsWith(".css")).text;
      const id = createHash("sha256").update(code).update(css).digest("hex").slice(0, 16);
      await rm(join(outdir, "fonts"), { recursive: true, force: true });
      for (const file of files) {
        if (file.path.endsWith(".js") || file.path.endsWith(".css")) continue;
        await mkdir(dirname(file.path), { recursive: true });
        await writeFile(file.path, file.contents);
      }
      await writeFile(join(outdir, "chat-impl.js"), `${code}export const buildId = ${JSON.stringify(id)};\n`);
      await writeFile(join(outdir, "chat.css"), css);
      await esbuild.build({
        ...common,
        logLevel: "warning",
        plugins: [{
          name: "chat-build-id",
          setup(b) {
            b.onResolve({ filter: /^ai-sessions:build$/ }, (args) => ({ path: args.path, namespace: "chat-build" }));
            b.onLoad({ filter: /.*/, namespace: "chat-build" }, () => ({
              contents: `export const id = ${JSON.stringify(id)};\n`,
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
  {
    ...common, entryPoints: { chat: join(here, "src/chat.ts") }, outdir, write: false,
    loader: { ".woff2": "file" }, assetNames: "fonts/[name]-[hash]", plugins: [katexWoff2Only, chatOutputs],
  },
  { ...common, entryPoints: { panel: join(here, "src/panel.ts") }, outdir },
  { ...common, entryPoints: { inspector: join(here, "src/inspector.ts") }, outdir },
];

await mkdir(outdir, { recursive: true });
if (watch) {
  for (const options of builds) await (await esbuild.context(options)).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build(options)));
}
