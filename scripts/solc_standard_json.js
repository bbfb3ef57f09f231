// Reads a solc standard-JSON input on stdin, compiles it with the pinned solc-js and prints
// the standard-JSON output on stdout. Imports resolve against the project's node_modules.
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const root = path.resolve(__dirname, "..");

function findImports(importPath) {
  for (const base of [path.join(root, "node_modules"), root]) {
    const candidate = path.join(base, importPath);
    if (fs.existsSync(candidate)) {
      return { contents: fs.readFileSync(candidate, "utf8") };
    }
  }
  return { error: `not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
if (process.argv.includes("--version")) {
  process.stdout.write(solc.version());
} else {
  process.stdout.write(solc.compile(input, { import: findImports }));
}
