#!/usr/bin/env node
// The `modelnode-hash-key` command. A committed shim, so that the bin target exists when the
// package is linked (in the workspace, before anything is built) as well as when it is installed;
// the code is in dist/src/hash-key-cli.js (src/hash-key-cli.ts).
import "../dist/src/hash-key-cli.js";
