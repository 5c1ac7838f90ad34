#!/usr/bin/env node
// The CLI is compiled TypeScript (src/cli.ts → dist/src/cli.js). This committed shim is what the
// package's `bin` names because it exists at install time, before the build.
import { runPullCli } from "../dist/src/cli.js";

process.exitCode = await runPullCli(process.argv.slice(2));
