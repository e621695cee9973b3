// What hatch-jupyter-builder runs as "npm" (pyproject.toml, build-kwargs `npm`) when pip builds the package.
// Its npm_builder runs `<npm> install` then `<npm> run build`. A plain `npm install` may rewrite the committed
// package-lock.json (leaving a fresh clone dirty after `make lab`), so `install` becomes `npm ci`: it installs
// exactly the lockfile, fails if the lockfile is out of sync with package.json, and never writes it.
// node_modules that npm ci or npm install made after the last change of package.json and the lockfile is kept
// (npm records each install in node_modules/.package-lock.json), so a second `pip install -e .` takes seconds.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);

function modified(path) {
  try {
    return statSync(join(here, path)).mtimeMs;
  } catch {
    return null;
  }
}

function upToDate() {
  const installed = modified("node_modules/.package-lock.json");
  return installed !== null && installed >= modified("package-lock.json") && installed >= modified("package.json");
}

function npm(npmArgs) {
  console.log(`> npm ${npmArgs.join(" ")}`);
  const result = spawnSync("npm", npmArgs, { cwd: here, stdio: "inherit", shell: process.platform === "win32" });
  if (result.error) throw result.error;
  process.exit(result.status ?? 1);
}

if (args[0] === "install") {
  if (upToDate()) {
    console.log("node_modules is up to date with package-lock.json: nothing to install");
    process.exit(0);
  }
  npm(["ci", "--no-audit", "--no-fund"]);
} else {
  npm(args);
}
