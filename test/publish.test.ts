// The publishing path as a user walks it, outside the workspace and offline: `npm run pack`
// (scripts/pack.mjs, what docs/publishing.md tells users to run) packs every publishable package
// into one folder; core, testing and plugin-heartbeat from there are installed with npm into a
// fresh project in the temp directory, third-party dependencies from tarballs of the workspace's
// installed copies; write a plugin package that lists core as a peer dependency, pack it, and
// compose a server from it and heartbeatPlugin() in a child process; talk to that server over a
// real socket; type-check a TypeScript file against the installed declarations; and check that a
// second copy of core is refused with the error that says so. Every tarball's source maps must
// resolve inside it.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { TestClient } from "@modelnode/testing";
import { run, tarballName, tarEntries, tarFile, userEnv } from "./support/publish/commands.js";
import { unresolvedMapSources } from "./support/publish/maps.js";
import { PLUGIN_NAME, PLUGIN_VERSION, writeApp, writePlugin } from "./support/publish/project.js";
import { dependencyClosure, packInstalled } from "./support/publish/vendor.js";
import { REPO_ROOT } from "./support/paths.js";

const PACKED = [
  { name: "@modelnode/core", dir: "packages/core" },
  { name: "@modelnode/testing", dir: "packages/testing" },
  { name: "@modelnode/plugin-heartbeat", dir: "packages/plugin-heartbeat" },
] as const;
/** What a TypeScript application installs next to them (core's and testing's declarations use ws's types). */
const TYPES = ["@types/node", "@types/ws"];

interface Manifest {
  name: string;
  version: string;
  types?: string;
  exports?: Record<string, string | Record<string, string>>;
  files?: string[];
  engines?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  publishConfig?: Record<string, string>;
}

const started = performance.now();
let work: string;
let tarballs: string;
let app: string;
const packedTarballs = new Map<string, string>();
/** Every tarball `npm run pack` printed. */
let allTarballs: string[] = [];
const timings: string[] = [];

async function timed<T>(what: string, step: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await step();
  } finally {
    timings.push(`${what} ${Math.round(performance.now() - t0)} ms`);
  }
}

/** npm, offline, with a cache of its own in the temp directory (nothing is kept between runs). */
function npm(args: string[], cwd: string, timeoutMs = 120_000) {
  return run("npm", [...args, "--offline", "--no-audit", "--no-fund", "--cache", join(work, "npm-cache")], { cwd, timeoutMs });
}

before(async () => {
  work = realpathSync(mkdtempSync(join(tmpdir(), "modelnode-publish-")));
  assert.ok(relative(REPO_ROOT, work).startsWith(".."), `the temp directory ${work} must be outside the repository`);
  tarballs = join(work, "tarballs");
  app = join(work, "app");
  mkdirSync(tarballs);

  // 1. The packages, as `npm run pack` makes them (it builds, then pnpm packs each publishable
  // package) into the folder --out names; it prints one tarball path a line.
  const packed = await timed("npm run pack", () => run("npm", ["run", "pack", "--", "--out", tarballs], { cwd: REPO_ROOT, timeoutMs: 180_000 }));
  allTarballs = packed.stdout.split("\n").filter((line) => line.endsWith(".tgz"));
  for (const p of PACKED) {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, p.dir, "package.json"), "utf8")) as Manifest;
    const file = join(tarballs, tarballName(manifest.name, manifest.version));
    assert.ok(existsSync(file), `npm run pack made no ${file}`);
    assert.ok(allTarballs.includes(file), `npm run pack did not print ${file}:\n${packed.stdout}`);
    packedTarballs.set(p.name, file);
  }

  // 2. Their third-party dependencies, as tarballs of the workspace's installed copies.
  const vendored = await timed("vendor", async () => {
    const roots = [];
    for (const p of PACKED) {
      const manifest = JSON.parse(await tarFile(packedTarballs.get(p.name)!, "package/package.json")) as Manifest;
      roots.push({ fromDir: join(REPO_ROOT, p.dir), names: Object.keys(manifest.dependencies ?? {}) });
    }
    roots.push({ fromDir: join(REPO_ROOT, "packages", "core"), names: TYPES });
    const closure = dependencyClosure(roots).filter((pkg) => !pkg.name.startsWith("@modelnode/"));
    return Promise.all(closure.map(async (pkg) => ({ ...pkg, tarball: await packInstalled(pkg, tarballs) })));
  });

  // 3. The plugin author's package, packed as its author would.
  const pluginDir = join(work, "plugin");
  writePlugin(pluginDir);
  await timed("npm pack plugin", () => npm(["pack", "--pack-destination", tarballs], pluginDir));

  // 4. The application: everything from tarballs, installed by npm without a registry.
  const dependencies: Record<string, string> = {};
  for (const pkg of vendored) dependencies[pkg.name] = `file:${relative(app, pkg.tarball).split(sep).join("/")}`;
  for (const [name, file] of packedTarballs) dependencies[name] = `file:${relative(app, file).split(sep).join("/")}`;
  dependencies[PLUGIN_NAME] = `file:../tarballs/${tarballName(PLUGIN_NAME, PLUGIN_VERSION)}`;
  writeApp(app, dependencies);
  await timed("npm install", () => npm(["install"], app));
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`publish path: ${timings.join(", ")}; ${Math.round(performance.now() - started)} ms in all`);
});

describe("the packed packages", () => {
  for (const p of PACKED) {
    test(`${p.name}: the tarball holds package.json, README.md, LICENSE and dist/src (no tests, no build info), its exports resolve, ranges are real`, async () => {
      const tarball = packedTarballs.get(p.name)!;
      const entries = await tarEntries(tarball);
      // src/*.ts travels too: the source maps point at it (see the source-map test below).
      const outside = entries.filter((e) => !/^package\/(package\.json|README\.md|LICENSE|dist\/src\/.+\.(js|d\.ts)(\.map)?|src\/.+\.ts)$/.test(e));
      assert.deepEqual(outside, [], "files a user does not need");
      assert.ok(entries.includes("package/README.md"));
      assert.ok(entries.includes("package/LICENSE"), "the MIT licence the manifest names travels with the code");
      // Every compiled file comes from a source that still exists (tsc -b never deletes stale output).
      const sources = new Set(
        entries.filter((e) => e.endsWith(".js")).map((e) => e.replace(/^package\/dist\//, "").replace(/\.js$/, ".ts")),
      );
      const stale = [...sources].filter((src) => !existsSync(join(REPO_ROOT, p.dir, src)));
      assert.deepEqual(stale, [], "compiled files whose source is gone");

      const text = await tarFile(tarball, "package/package.json");
      assert.doesNotMatch(text, /workspace:/);
      const manifest = JSON.parse(text) as Manifest;
      assert.equal(manifest.engines?.node, ">=20");
      assert.equal(manifest.publishConfig?.access, "public");
      assert.ok(manifest.types && entries.includes(`package/${manifest.types.replace(/^\.\//, "")}`), `types ${manifest.types}`);
      for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
        const paths = typeof target === "string" ? [target] : Object.values(target);
        for (const path of paths) assert.ok(entries.includes(`package/${path.replace(/^\.\//, "")}`), `exports["${subpath}"] → ${path}`);
      }
      if (p.name !== "@modelnode/core") {
        assert.equal(manifest.peerDependencies?.["@modelnode/core"], "^0.1.0");
        assert.equal(manifest.dependencies?.["@modelnode/core"], undefined, "core must be a peer dependency only");
        assert.equal(manifest.devDependencies?.["@modelnode/core"], "0.1.0");
      }
    });
  }
});

describe("every tarball `npm run pack` made", () => {
  test("one per publishable workspace package, none for the private ones", () => {
    const expected: string[] = [];
    for (const group of ["packages", "examples"]) {
      for (const dir of readdirSync(join(REPO_ROOT, group))) {
        const file = join(REPO_ROOT, group, dir, "package.json");
        if (!existsSync(file)) continue;
        const manifest = JSON.parse(readFileSync(file, "utf8")) as Manifest & { private?: boolean };
        if (!manifest.private) expected.push(tarballName(manifest.name, manifest.version));
      }
    }
    const printed = allTarballs.map((file) => relative(tarballs, file));
    assert.deepEqual(printed.slice().sort(), expected.sort());
    for (const file of allTarballs) assert.ok(existsSync(file), file);
  });

  test("every source map's sources resolve inside its tarball (or are inlined)", async () => {
    for (const tarball of allTarballs) {
      const { maps, unresolved } = await unresolvedMapSources(tarball);
      assert.ok(maps > 0, `${tarball} ships no source maps`);
      assert.deepEqual(unresolved, [], `${relative(tarballs, tarball)}: map sources missing from the tarball`);
    }
  });
});

describe("installed outside the workspace", () => {
  test("npm put one copy of core at the top, shared by the packages that peer on it", () => {
    const core = JSON.parse(readFileSync(join(app, "node_modules", "@modelnode", "core", "package.json"), "utf8")) as Manifest;
    assert.equal(core.version, "0.1.0");
    for (const name of ["@modelnode/testing", "@modelnode/plugin-heartbeat", PLUGIN_NAME]) {
      assert.ok(existsSync(join(app, "node_modules", name, "package.json")), `${name} installed`);
      assert.ok(!existsSync(join(app, "node_modules", name, "node_modules", "@modelnode", "core")), `${name} has no core of its own`);
    }
  });

  test("TypeScript: the published declarations and export maps resolve (workspace tsc over a .ts file in the project)", async () => {
    await timed("tsc", () => run(process.execPath, [join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", app], { cwd: app }));
  });

  test("a server composed of the plugin package and heartbeatPlugin() answers shout, whisper and heartbeat over a real socket", async (t) => {
    const server = startServer();
    t.after(() => server.child.kill("SIGKILL"));
    const url = await server.url;
    const client = await TestClient.connect(url);
    try {
      const shout = await client.call("shout", { text: "hello, world" }, "s-1");
      assert.equal(shout.header.message_type, "shout_response");
      assert.equal(shout.header.correlation_id, "s-1");
      assert.equal(shout.text, "HELLO, WORLD");

      const whisper = await client.call("whisper", { text: "QUIET" }, "w-1");
      assert.equal(whisper.header.message_type, "whisper_response");
      assert.equal(whisper.text, "quiet");

      const ack = await client.call("heartbeat", { worker_id: "publish-test" }, "hb-1");
      assert.equal(ack.header.message_type, "heartbeat_ack");
      assert.equal(ack.header.correlation_id, "hb-1");
      assert.equal(ack.worker_id, "publish-test");
      assert.equal(ack.status, "healthy");

      const bad = await client.call("shout", { text: 5 }, "s-2");
      assert.equal(bad.header.message_type, "error");
      assert.equal(bad.code, "VALIDATION_FAILED");
    } finally {
      await client.close();
    }

    // The installed @modelnode/testing, from a script in the project.
    const installed = await run(process.execPath, ["client.mjs", url, "from the project"], { cwd: app, timeoutMs: 20_000 });
    const reply = JSON.parse(installed.stdout);
    assert.equal(reply.header.message_type, "shout_response");
    assert.equal(reply.header.correlation_id, "from-installed-testing");
    assert.equal(reply.text, "FROM THE PROJECT");

    server.child.kill("SIGTERM");
    assert.equal(await server.exited, 0, server.stderr());
  });

  test("a plugin that resolves its own copy of core (and of tsyringe): composition fails saying two copies are loaded", async () => {
    // What a plugin that lists core under dependencies gets when the versions differ: a nested
    // core, and with it a nested tsyringe that the node's container knows nothing about.
    const installedCore = join(app, "node_modules", "@modelnode", "core");
    const ownCore = join(app, "node_modules", PLUGIN_NAME, "node_modules", "@modelnode", "core");
    cpSync(installedCore, ownCore, { recursive: true });
    cpSync(join(app, "node_modules", "tsyringe"), join(app, "node_modules", PLUGIN_NAME, "node_modules", "tsyringe"), { recursive: true });
    try {
      const result = await run(process.execPath, ["server.mjs"], { cwd: app, timeoutMs: 20_000, allowFailure: true });
      assert.equal(result.code, 3, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, /compose failed: RegistryError: handler "shout" \(plugin "shout"\) was made by another copy of @modelnode\/core/);
      assert.match(result.stderr, /two copies are loaded/);
      assert.match(result.stderr, /must list @modelnode\/core under peerDependencies/);
      assert.ok(result.stderr.includes(`${installedCore}${sep}`) && result.stderr.includes(`${ownCore}${sep}`), result.stderr);
      assert.doesNotMatch(result.stderr, /TypeInfo not known/);
    } finally {
      rmSync(join(app, "node_modules", PLUGIN_NAME, "node_modules"), { recursive: true, force: true });
    }
  });
});

/** `node server.mjs` in the project; resolves the URL it prints. */
function startServer(): { child: ChildProcess; url: Promise<string>; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, ["server.mjs"], { cwd: app, env: userEnv(), stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      stdout += d;
      const match = /listening (ws:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]);
    });
    void exited.then((code) => reject(new Error(`server.mjs exited with ${code}: ${stdout}\n${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}
