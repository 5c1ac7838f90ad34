/** The playground's HTTP side on a real node: the page, its files, the client's build, and nothing else. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { startTestNode, TestClient, header } from "@modelnode/testing";
import { importSpecifiers, loadClientBuild } from "../src/assets.js";
import { playgroundPlugin, resolvePlaygroundOptions } from "../src/index.js";

/** GET `path` as written (no URL normalisation, unlike fetch), with optional headers. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const INFERENCE = { defaults: { maxTokens: 64, temperature: 0, topP: 1, topK: 0 }, maxTokensLimit: 512, maxPromptChars: 32_768, maxStopSequences: 4 };

test("GET / serves the page, without authentication, with a strict CSP and an import map for the client", async (t) => {
  const { node, port, url } = await startTestNode({ plugins: [playgroundPlugin({ inference: INFERENCE })] });
  t.after(() => node.close());
  const page = await get(port, "/");
  assert.equal(page.status, 200);
  assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
  assert.equal(page.headers["cache-control"], "no-cache");
  assert.equal(page.headers["x-content-type-options"], "nosniff");
  assert.equal(page.headers["x-frame-options"], "DENY");
  const csp = String(page.headers["content-security-policy"]);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
  assert.match(csp, /connect-src 'self'/);
  assert.match(page.body, /<script type="importmap">\{"imports": \{"@modelnode\/client": "\/playground\/client\/[\w./-]+\.js"\}\}<\/script>/);
  assert.doesNotMatch(page.body, /https?:\/\//, "nothing is fetched from elsewhere");
  assert.match(page.body, /<label for="model">Model<\/label>/);

  // The page's files.
  const app = await get(port, "/playground/app.js");
  assert.equal(app.status, 200);
  assert.equal(app.headers["content-type"], "text/javascript; charset=utf-8");
  assert.equal(app.headers["cache-control"], "no-cache");
  assert.match(app.body, /from "@modelnode\/client"/);
  assert.doesNotMatch(app.body, /sourceMappingURL/);
  const css = await get(port, "/playground/playground.css");
  assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
  assert.doesNotMatch(css.body, /@import|url\(\s*["']?https?:/, "no external fonts or sheets");

  // The client's browser build: its entry and every module it imports, all served.
  const entry = page.body.match(/"\/playground\/client\/([\w./-]+\.js)"/)![1];
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const path = pending.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    const module = await get(port, `/playground/client/${path}`);
    assert.equal(module.status, 200, path);
    assert.equal(module.headers["content-type"], "text/javascript; charset=utf-8");
    for (const specifier of importSpecifiers(module.body)) {
      assert.match(specifier, /^\.\.?\//, `${path} imports only relative modules`);
      pending.push(new URL(specifier, `http://x/${path}`).pathname.slice(1));
    }
  }
  assert.equal(seen.size, loadClientBuild().modules.size);

  // The defaults, in wire names.
  const defaults = await get(port, "/playground/defaults.json");
  assert.equal(defaults.headers["cache-control"], "no-store");
  assert.deepEqual(JSON.parse(defaults.body), {
    defaults: { max_tokens: 64, temperature: 0, top_p: 1, top_k: 0 },
    limits: { max_tokens: 512, max_prompt_chars: 32_768, max_stop_sequences: 4, max_stop_chars: null, max_chat_messages: null, max_chat_chars: null },
  });

  // Not counted as requests; the WebSocket protocol is still served on the same path.
  assert.equal(node.getStats().http_requests ?? 0, 0);
  const client = await TestClient.connect(url);
  const reply = await client.request({ header: header("list_models", "lm") });
  assert.equal(reply.code, "UNKNOWN_MESSAGE_TYPE", "the plugin adds no message type; the socket works on /");
  await client.close();
});

test("only known files: unknown names, traversal and encoded slashes get 404; other methods 405", async (t) => {
  const { node, port } = await startTestNode({ plugins: [playgroundPlugin()] });
  t.after(() => node.close());
  const attempts = [
    "/playground/index.html",
    "/playground/package.json",
    "/playground/..%2Fpackage.json",
    "/playground/%2e%2e%2f%2e%2e%2fpackage.json",
    "/playground/client/..%2F..%2Fpackage.json",
    "/playground/client/package.json",
    "/playground/client/index.d.ts",
    "/playground/client/index.js.map",
    "/playground/app.ts",
    "/playground/app.js%00",
  ];
  for (const path of attempts) {
    const res = await get(port, path);
    assert.equal(res.status, 404, path);
    assert.equal(res.body, "Not found.\n", path);
  }
  for (const path of ["/playground/../package.json", "/playground/client/../../package.json", "/static/index.html", "/dist/web/app.js"]) {
    assert.equal((await get(port, path)).status, 426, `${path}: no route (the port speaks WebSocket)`);
  }
  const post = await fetch(`http://127.0.0.1:${port}/playground/app.js`, { method: "POST", body: "{}", headers: { "content-type": "application/json" } });
  assert.equal(post.status, 405);
  const head = await fetch(`http://127.0.0.1:${port}/`, { method: "HEAD" });
  assert.equal(head.status, 200);
});

test("an unchanged file is revalidated with a 304", async (t) => {
  const { node, port } = await startTestNode({ plugins: [playgroundPlugin()] });
  t.after(() => node.close());
  for (const path of ["/", "/playground/app.js", "/playground/playground.css"]) {
    const first = await get(port, path);
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[\w-]+"$/);
    const again = await get(port, path, { "if-none-match": etag });
    assert.equal(again.status, 304, path);
    assert.equal(again.body, "");
    assert.equal((await get(port, path, { "if-none-match": '"other"' })).status, 200);
  }
});

test("path moves the page; enabled: false serves nothing; without inference options the defaults are null", async (t) => {
  const moved = await startTestNode({ plugins: [playgroundPlugin({ path: "/try" })] });
  t.after(() => moved.node.close());
  assert.equal((await get(moved.port, "/try")).status, 200);
  assert.equal((await get(moved.port, "/")).status, 426);
  assert.deepEqual(JSON.parse((await get(moved.port, "/playground/defaults.json")).body).defaults, {
    max_tokens: null,
    temperature: null,
    top_p: null,
    top_k: null,
  });

  const off = await startTestNode({ plugins: [playgroundPlugin({ enabled: false })] });
  t.after(() => off.node.close());
  for (const path of ["/", "/playground/app.js", "/playground/defaults.json"]) assert.equal((await get(off.port, path)).status, 426, path);
});

test("bad options are refused when the plugin is made, naming the option", () => {
  assert.equal(resolvePlaygroundOptions().path, "/");
  assert.equal(resolvePlaygroundOptions().enabled, true);
  for (const path of ["", "relative", "/a/../b", "/playground/x", "/a b", "/%2e"]) {
    assert.throws(() => playgroundPlugin({ path }), /playgroundPlugin: path must be an absolute URL path/, path);
  }
  assert.throws(() => playgroundPlugin({ enabled: "yes" as unknown as boolean }), /playgroundPlugin: enabled must be true or false/);
  assert.throws(() => playgroundPlugin({ colour: "red" } as never), /unknown option "colour"/);
  assert.throws(() => playgroundPlugin({ inference: { defaults: { topP: 0 } } }), /inference\.defaults\.topP must be a number in \(0, 1\]/);
});

test("importSpecifiers finds static, side-effect, re-export and dynamic imports, not comments or import.meta", () => {
  const code = [
    'import { a } from "./a.js";',
    "import {",
    "  b,",
    "  c as d,",
    '} from "./b.js";',
    'import * as e from "../e.js";',
    'import "./side.js";',
    'export * from "./again.js";',
    'export { f } from "./f.js";',
    'const g = await import("./lazy.js");',
    ' * import { x } from "@modelnode/client";',
    '// import y from "nope"',
    "const here = import.meta.url;",
    'const s = "import z from \\"quoted\\"";',
  ].join("\n");
  assert.deepEqual(importSpecifiers(code).sort(), ["../e.js", "./a.js", "./again.js", "./b.js", "./f.js", "./lazy.js", "./side.js"]);
});
