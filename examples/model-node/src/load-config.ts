/**
 * Where the configuration comes from, lowest precedence first: defaults, the JSON file
 * (`--config <file>` or MODELNODE_CONFIG), environment variables, command-line flags. All of it
 * is validated together; relative model directories in a file are relative to that file.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { parseModelArgument, type ModelEntry } from "@modelnode/onnx";
import { configSchemaFor, type ModelNodeConfig } from "./config.js";
import { ConfigError } from "./config-error.js";
import { extraPlugins } from "./extra-plugins.js";
import type { ExtraPlugin } from "./plugin-entry.js";
import { NATS_AUTH_ENV, NATS_AUTH_FLAGS, NATS_FILE_KEYS, NATS_TLS_ENV, NATS_TLS_FLAGS } from "./nats-config.js";
import { SESSION_STORE_ENV, SESSION_STORE_FLAGS, sessionStoreLayer } from "./session-store-config.js";

export { USAGE } from "./usage.js";

type Layer = Record<string, unknown>;

export interface LoadedConfig {
  config: ModelNodeConfig;
  /** The config file read, if any. */
  file?: string;
}

export interface ConfigSources {
  argv?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** The extra plugins whose options `plugins` holds. Default: extra-plugins.ts's list. */
  plugins?: readonly ExtraPlugin[];
}

/** Returns "help" when --help was asked for; throws ConfigError for anything wrong. */
export function loadConfig({ argv = [], env = process.env, cwd = process.cwd(), plugins = extraPlugins }: ConfigSources = {}): LoadedConfig | "help" {
  const flags = parseFlags(argv);
  if (flags.help) return "help";
  const origins = new Map<string, string>();

  const fileName = flags.values.config ?? nonBlank(env.MODELNODE_CONFIG);
  const fileLayer = fileName === undefined ? {} : readConfigFile(resolve(cwd, fileName));
  for (const key of Object.keys(fileLayer)) origins.set(key, fileName!);

  const envLayer: Layer = {};
  const fromEnv = (name: string, key: string, value: unknown) => {
    if (value === undefined) return;
    envLayer[key] = value;
    origins.set(key, name);
  };
  fromEnv("PORT", "port", numberish(env.PORT));
  fromEnv("HOST", "host", nonBlank(env.HOST));
  fromEnv("MODELNODE_LOG_LEVEL", "logLevel", nonBlank(env.MODELNODE_LOG_LEVEL));
  fromEnv("MODELNODE_THREADS", "threads", numberish(env.MODELNODE_THREADS));
  if (nonBlank(env.MODELNODE_SPECULATIVE) !== undefined) fromEnv("MODELNODE_SPECULATIVE", "speculative", { method: nonBlank(env.MODELNODE_SPECULATIVE) });
  fromEnv("MODELNODE_NODE_ID", "nodeId", nonBlank(env.MODELNODE_NODE_ID));
  fromEnv("MODELNODE_ROLE", "role", nonBlank(env.MODELNODE_ROLE));
  fromEnv("MODELNODE_NATS", "nats", nonBlank(env.MODELNODE_NATS));
  fromEnv("MODELNODE_MODELS", "models", modelList(env.MODELNODE_MODELS, "MODELNODE_MODELS", cwd));
  const envModelsDir = nonBlank(env.MODELNODE_MODELS_DIR);
  fromEnv("MODELNODE_MODELS_DIR", "modelsDir", envModelsDir === undefined ? undefined : resolve(cwd, envModelsDir));
  const pullEnv: Layer = {};
  for (const [name, key, value] of [
    ["MODELNODE_PULL_ON_DEMAND", "enabled", nonBlank(env.MODELNODE_PULL_ON_DEMAND) === undefined ? undefined : booleanish(env.MODELNODE_PULL_ON_DEMAND!)],
    ["HF_ENDPOINT", "hubUrl", nonBlank(env.HF_ENDPOINT)],
  ] as const) {
    if (value === undefined) continue;
    pullEnv[key] = value;
    origins.set(`pullOnDemand.${key}`, name);
  }
  if (Object.keys(pullEnv).length > 0) envLayer.pullOnDemand = pullEnv;
  const auth: Layer = {};
  const fromAuthEnv = (name: string, key: string, value: unknown) => {
    if (value === undefined) return;
    auth[key] = value;
    origins.set(`auth.${key}`, name);
  };
  const required = nonBlank(env.MODELNODE_AUTH_REQUIRED);
  fromAuthEnv("MODELNODE_AUTH_REQUIRED", "required", required === undefined ? undefined : booleanish(required));
  fromAuthEnv("MODELNODE_AUTH_SECRET", "secret", nonBlank(env.MODELNODE_AUTH_SECRET));
  fromAuthEnv("MODELNODE_AUTH_KEY_HASHES", "keyHashes", nonBlank(env.MODELNODE_AUTH_KEY_HASHES)?.split(",").map((s) => s.trim()).filter(Boolean));
  if (Object.keys(auth).length > 0) envLayer.auth = auth;
  fromEnv("MODELNODE_ALLOWED_ORIGINS", "allowedOrigins", nonBlank(env.MODELNODE_ALLOWED_ORIGINS)?.split(",").map((s) => s.trim()));
  fromEnv("MODELNODE_ALLOWED_HOSTS", "allowedHosts", nonBlank(env.MODELNODE_ALLOWED_HOSTS)?.split(",").map((s) => s.trim()).filter(Boolean));
  const tls: Layer = {};
  for (const [name, key] of [["MODELNODE_TLS_CERT", "certFile"], ["MODELNODE_TLS_KEY", "keyFile"]] as const) {
    const file = nonBlank(env[name]);
    if (file === undefined) continue;
    tls[key] = resolve(cwd, file);
    origins.set(`tls.${key}`, name);
  }
  if (Object.keys(tls).length > 0) envLayer.tls = tls;
  for (const [section, names] of [["natsAuth", NATS_AUTH_ENV], ["natsTls", NATS_TLS_ENV]] as const) {
    const layer = sectionOf(names.map(([name, key]) => [name, key, nonBlank(env[name])]), section, cwd, origins);
    if (layer) envLayer[section] = layer;
  }
  const storeEnv = sessionStoreLayer(SESSION_STORE_ENV.map(([name, key]) => [name, key, nonBlank(env[name])]), origins);
  if (storeEnv) envLayer.sessionStore = storeEnv;
  const tracing: Layer = {};
  for (const [name, key] of [["MODELNODE_OTLP_TRACES_ENDPOINT", "endpoint"], ["OTEL_SERVICE_NAME", "serviceName"]] as const) {
    const value = nonBlank(env[name]);
    if (value === undefined) continue;
    tracing[key] = value;
    origins.set(`tracing.${key}`, name);
  }
  if (Object.keys(tracing).length > 0) envLayer.tracing = tracing;
  const pluginOptions = jsonObject(env.MODELNODE_PLUGINS, "MODELNODE_PLUGINS");
  if (pluginOptions) {
    envLayer.plugins = pluginOptions;
    for (const name of Object.keys(pluginOptions)) origins.set(`plugins.${name}`, "MODELNODE_PLUGINS");
  }

  const flagLayer: Layer = {};
  const fromFlag = (flag: string, key: string, value: unknown) => {
    if (value === undefined) return;
    flagLayer[key] = value;
    origins.set(key, flag);
  };
  fromFlag("--port", "port", numberish(flags.values.port));
  fromFlag("--host", "host", flags.values.host);
  fromFlag("--log-level", "logLevel", flags.values["log-level"]);
  fromFlag("--role", "role", flags.values.role);
  fromFlag("--nats", "nats", flags.values.nats);
  fromFlag("--threads", "threads", numberish(flags.values.threads));
  if (flags.values.speculative !== undefined) fromFlag("--speculative", "speculative", { method: flags.values.speculative });
  if (flags.values.model) fromFlag("--model", "models", modelList(flags.values.model.join(","), "--model", cwd));
  const modelsDir = flags.values["models-dir"];
  fromFlag("--models-dir", "modelsDir", modelsDir === undefined ? undefined : resolve(cwd, modelsDir));
  const lifecycle: Layer = {};
  for (const [flag, key, value] of [
    ["keep-alive", "keepAlive", flags.values["keep-alive"]],
    ["max-loaded-models", "maxLoadedModels", numberish(flags.values["max-loaded-models"])],
    ["models-memory-budget", "memoryBudget", numberish(flags.values["models-memory-budget"])],
    ["model-load-timeout", "loadTimeout", flags.values["model-load-timeout"]],
  ] as const) {
    if (value === undefined) continue;
    lifecycle[key] = value;
    origins.set(`modelLifecycle.${key}`, `--${flag}`);
  }
  if (Object.keys(lifecycle).length > 0) flagLayer.modelLifecycle = lifecycle;
  const pullFlags: Layer = {};
  for (const [flag, key, value] of [
    ["pull-on-demand", "enabled", flags.values["pull-on-demand"] ? true : undefined],
    ["hub-url", "hubUrl", flags.values["hub-url"]],
    ["pull-timeout", "timeout", flags.values["pull-timeout"]],
  ] as const) {
    if (value === undefined) continue;
    pullFlags[key] = value;
    origins.set(`pullOnDemand.${key}`, `--${flag}`);
  }
  if (Object.keys(pullFlags).length > 0) flagLayer.pullOnDemand = pullFlags;
  const tlsFlags: Layer = {};
  for (const [flag, key] of [["tls-cert", "certFile"], ["tls-key", "keyFile"]] as const) {
    const file = flags.values[flag];
    if (file === undefined) continue;
    tlsFlags[key] = resolve(cwd, file);
    origins.set(`tls.${key}`, `--${flag}`);
  }
  if (Object.keys(tlsFlags).length > 0) flagLayer.tls = tlsFlags;
  for (const [section, names] of [["natsAuth", NATS_AUTH_FLAGS], ["natsTls", NATS_TLS_FLAGS]] as const) {
    const layer = sectionOf(names.map(([flag, key]) => [`--${flag}`, key, flags.values[flag]]), section, cwd, origins);
    if (layer) flagLayer[section] = layer;
  }
  const storeFlags = sessionStoreLayer(SESSION_STORE_FLAGS.map(([flag, key]) => [`--${flag}`, key, flags.values[flag]]), origins);
  if (storeFlags) flagLayer.sessionStore = storeFlags;
  if (flags.values["no-prefix-cache"]) {
    flagLayer.prefixCache = false;
    origins.set("prefixCache", "--no-prefix-cache");
  }
  if (flags.values.auth) {
    flagLayer.auth = { required: true };
    origins.set("auth.required", "--auth");
  }
  const tracingFlags: Layer = {};
  for (const [flag, key] of [["otlp-traces-endpoint", "endpoint"], ["otlp-service-name", "serviceName"]] as const) {
    const value = flags.values[flag];
    if (value === undefined) continue;
    tracingFlags[key] = value;
    origins.set(`tracing.${key}`, `--${flag}`);
  }
  if (Object.keys(tracingFlags).length > 0) flagLayer.tracing = tracingFlags;

  const merged = merge(merge(fileLayer, envLayer), flagLayer);
  const parsed = configSchemaFor(plugins).safeParse(merged);
  if (!parsed.success) throw ConfigError.fromZod(parsed.error, (path) => originOf(origins, path));
  checkModelDirs(parsed.data, origins.get("models"), origins.get("modelsDir"));
  checkNatsFiles(parsed.data, origins);
  return { config: parsed.data, file: fileName };
}

/** One section (natsAuth, natsTls) from [origin, key, value] triples; file paths resolved against `cwd`. */
function sectionOf(items: [string, string, string | undefined][], section: string, cwd: string, origins: Map<string, string>): Layer | undefined {
  const layer: Layer = {};
  for (const [origin, key, value] of items) {
    if (value === undefined) continue;
    layer[key] = NATS_FILE_KEYS.has(key) ? resolve(cwd, value) : value;
    origins.set(`${section}.${key}`, origin);
  }
  return Object.keys(layer).length > 0 ? layer : undefined;
}

/** The NATS auth and TLS files must exist at startup (read when connecting): a missing one is a config error naming it. */
function checkNatsFiles(config: ModelNodeConfig, origins: Map<string, string>): void {
  for (const section of ["natsAuth", "natsTls"] as const) {
    for (const [key, value] of Object.entries(config[section] ?? {})) {
      if (!NATS_FILE_KEYS.has(key) || typeof value !== "string") continue;
      if (!existsSync(value) || !statSync(value).isFile()) {
        const origin = origins.get(`${section}.${key}`) ?? origins.get(section);
        throw new ConfigError(`${section}.${key}: file not found: ${value}${origin ? ` (from ${origin})` : ""}`);
      }
    }
  }
}

/** Where the longest known prefix of `path` came from ("auth.secret" → MODELNODE_AUTH_SECRET, or the file). */
function originOf(origins: Map<string, string>, path: string[]): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const origin = origins.get(path.slice(0, n).join("."));
    if (origin) return origin;
  }
  return undefined;
}

function parseFlags(argv: string[]) {
  try {
    const { values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        config: { type: "string" },
        model: { type: "string", multiple: true },
        "models-dir": { type: "string" },
        "keep-alive": { type: "string" },
        "max-loaded-models": { type: "string" },
        "models-memory-budget": { type: "string" },
        "model-load-timeout": { type: "string" },
        "pull-on-demand": { type: "boolean" },
        "hub-url": { type: "string" },
        "pull-timeout": { type: "string" },
        "log-level": { type: "string" },
        threads: { type: "string" },
        speculative: { type: "string" },
        role: { type: "string" },
        nats: { type: "string" },
        "nats-user": { type: "string" },
        "nats-pass": { type: "string" },
        "nats-token": { type: "string" },
        "nats-nkey-seed": { type: "string" },
        "nats-creds": { type: "string" },
        "nats-tls-ca": { type: "string" },
        "nats-tls-cert": { type: "string" },
        "nats-tls-key": { type: "string" },
        "session-store": { type: "string" },
        "session-store-bucket": { type: "string" },
        "session-store-replicas": { type: "string" },
        auth: { type: "boolean" },
        "no-prefix-cache": { type: "boolean" },
        "tls-cert": { type: "string" },
        "tls-key": { type: "string" },
        "otlp-traces-endpoint": { type: "string" },
        "otlp-service-name": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    return { values, help: values.help === true };
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (see --help)`);
  }
}

function readConfigFile(path: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  const layer = { ...(data as Layer) };
  // Model directories in a file are relative to the file, so a config can travel with its models.
  if (layer.models && typeof layer.models === "object" && !Array.isArray(layer.models)) {
    layer.models = Object.fromEntries(
      Object.entries(layer.models as Layer).map(([id, entry]) => [id, relativeTo(dirname(path), entry)]),
    );
  }
  // So is the models directory.
  if (typeof layer.modelsDir === "string" && layer.modelsDir) layer.modelsDir = resolve(dirname(path), layer.modelsDir);
  // So are TLS files, and NATS's key, credentials and TLS files.
  for (const section of ["tls", "natsAuth", "natsTls"]) {
    if (!isPlainObject(layer[section])) continue;
    const files = { ...(layer[section] as Layer) };
    for (const key of ["certFile", "keyFile", "caFile", "nkeySeedFile", "credsFile"]) {
      if (typeof files[key] === "string" && files[key]) files[key] = resolve(dirname(path), files[key] as string);
    }
    layer[section] = files;
  }
  return layer;
}

/** A JSON object from the environment (MODELNODE_PLUGINS), or undefined when unset. */
function jsonObject(text: string | undefined, origin: string): Layer | undefined {
  if (nonBlank(text) === undefined) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text!);
  } catch (error) {
    throw new ConfigError(`plugins: ${origin} is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(data)) throw new ConfigError(`plugins: ${origin} must hold a JSON object ({"<plugin>": {options}})`);
  return data;
}

/** "id=dir,id=dir" → { id: absolute dir }. */
/** `id=dir` or `id=dir:dtype` items (the onnx package's syntax), directories resolved against `cwd`. */
function modelList(text: string | undefined, origin: string, cwd: string): Layer | undefined {
  if (nonBlank(text) === undefined) return undefined;
  const models: Layer = {};
  for (const item of text!.split(",").map((s) => s.trim()).filter(Boolean)) {
    let id: string;
    let entry: ModelEntry;
    try {
      [id, entry] = parseModelArgument(item);
    } catch {
      throw new ConfigError(`models: expected id=dir or id=dir:dtype, got "${item}" (from ${origin})`);
    }
    // A plain directory stays a string (the file's form); with a dtype, the { dir, dtype } form.
    const plain = typeof entry === "string" ? entry : entry.dtype === undefined ? entry.dir : undefined;
    models[id] = relativeTo(cwd, plain ?? entry);
  }
  return models;
}

/** A model entry (a directory, or { dir, dtype }) with its directory resolved against `base`. */
function relativeTo(base: string, entry: unknown): unknown {
  if (typeof entry === "string") return entry ? resolve(base, entry) : entry;
  if (isPlainObject(entry) && typeof entry.dir === "string" && entry.dir) return { ...entry, dir: resolve(base, entry.dir) };
  return entry;
}

function checkModelDirs(config: ModelNodeConfig, origin: string | undefined, dirOrigin: string | undefined): void {
  if (config.modelsDir !== undefined && (!existsSync(config.modelsDir) || !statSync(config.modelsDir).isDirectory())) {
    throw new ConfigError(`modelsDir: directory not found: ${config.modelsDir}${dirOrigin ? ` (from ${dirOrigin})` : ""}`);
  }
  for (const [id, model] of Object.entries(config.models)) {
    const dir = typeof model === "string" ? model : model.dir;
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new ConfigError(`models.${id}: directory not found: ${dir}${origin ? ` (from ${origin})` : ""}`);
    }
  }
}

/** Objects merge key by key (auth from the file plus a secret from the environment); anything else is replaced. */
function merge(base: Layer, over: Layer): Layer {
  const out: Layer = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prev = out[key];
    out[key] = isPlainObject(prev) && isPlainObject(value) && key !== "models" ? merge(prev, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Layer {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonBlank(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** Numbers from text; anything else stays text, so validation names the field and what it expected. */
function numberish(value: string | undefined): unknown {
  const text = nonBlank(value);
  if (text === undefined) return undefined;
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

function booleanish(value: string): unknown {
  const text = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(text)) return true;
  if (["0", "false", "no", "off"].includes(text)) return false;
  return value;
}
