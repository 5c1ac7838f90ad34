#!/usr/bin/env node
// The CLI is compiled TypeScript (src/cli.ts → dist/src/cli.js). This committed shim is what the
// package's `bin` names because it exists at install time, before the build: a bin pointing into
// dist/ makes pnpm warn on every fresh install that it cannot link it.
import { runCli } from "../dist/src/cli.js";

process.exitCode = runCli(process.argv.slice(2));
