/** `model-node --help`: every flag and environment variable (load-config.ts reads them). */
export const USAGE = `Usage: model-node [options]
       model-node pull <org/name[:dtype]> [options]   download a model from the Hugging Face Hub (pull --help)

  --port <n>            port to listen on (default 8702; 0 = any free port)        env PORT
  --host <addr>         address to bind (default: all interfaces)                 env HOST
  --config <file.json>  configuration file (see model-node.config.json)           env MODELNODE_CONFIG
  --model <id=dir[:dtype]> serve the model in <dir> as <id> (dtype: fp32, fp16, q8, int8, uint8,
                        q4, q4f16, bnb4 — which of its graphs); repeatable        env MODELNODE_MODELS (id=dir,id=dir:q8)
  --models-dir <dir>    serve every model folder under <dir> (name/ or org/name/,   env MODELNODE_MODELS_DIR
                        Hugging Face ONNX layout), each loaded on its first request
                        and unloaded when idle (docs/models.md); --model models stay loaded
  --keep-alive <dur>    idle time before a directory model unloads: 5m (default), 30s,
                        1h30m, --keep-alive=-1 = never, 0 = right after each request
                        (Ollama's keep_alive overrides it per request)
  --max-loaded-models <n> directory models loaded at once (default 3; the least
                        recently used idle one is unloaded to make room)
  --models-memory-budget <size> memory the loaded directory models may take, estimated
                        from their graph files: 8GiB, 512MB, … (default: half the RAM)
  --model-load-timeout <dur> how long a request waits for its model to load (default 2m)
  --pull-on-demand      pull a Hub model (org/name or org/name:dtype) that --models-dir   env MODELNODE_PULL_ON_DEMAND
                        lacks on its first request, then load it (off by default;
                        HF_TOKEN for private models, HF_HUB_OFFLINE=1: never contact the Hub)
  --hub-url <url>       the Hub or a mirror to pull from (default huggingface.co)  env HF_ENDPOINT
  --pull-timeout <dur>  a pull taking longer is aborted (default 30m)
  --log-level <level>   fatal|error|warn|info|debug|trace|silent (default info)   env MODELNODE_LOG_LEVEL
  --threads <n>         ONNX Runtime threads per model (default: CPUs, at most 4) env MODELNODE_THREADS
  --no-prefix-cache     keep no prefix cache (config "prefixCache": false; block size and share:
                        limits.prefixCacheBlockTokens, limits.prefixCacheShare; docs/engine.md)
  --speculative <m>     speculative decoding: ngram (prompt lookup) | off (default) env MODELNODE_SPECULATIVE
  --auth                require authentication (needs auth.keyHashes)             env MODELNODE_AUTH_REQUIRED
  --tls-cert <file>     serve wss:// with this PEM certificate (needs --tls-key)  env MODELNODE_TLS_CERT
  --tls-key <file>      the certificate's PEM private key                         env MODELNODE_TLS_KEY
  --role <role>         single (default) | gateway | worker (docs/scale-out.md)    env MODELNODE_ROLE
  --nats <url>          NATS server(s) for the gateway and worker roles           env MODELNODE_NATS
  --nats-user <name>    NATS user (needs --nats-pass; docs/scale-out.md)         env MODELNODE_NATS_USER
  --nats-pass <pw>      its password (prefer the environment: ps shows flags)     env MODELNODE_NATS_PASS
  --nats-token <token>  NATS token (prefer the environment)                       env MODELNODE_NATS_TOKEN
  --nats-nkey-seed <file> NATS NKey user seed file ("SU...")                      env MODELNODE_NATS_NKEY_SEED
  --nats-creds <file>   NATS credentials file (user JWT + seed; operator mode)    env MODELNODE_NATS_CREDS
  --nats-tls-ca <file>  TLS to NATS: the CA that signed the server's certificate  env MODELNODE_NATS_TLS_CA
  --nats-tls-cert <file> client certificate for mutual TLS (needs --nats-tls-key) env MODELNODE_NATS_TLS_CERT
  --nats-tls-key <file> the client certificate's PEM key                          env MODELNODE_NATS_TLS_KEY
  --session-store <kind> gateway: where legacy step sessions are kept: memory      env MODELNODE_SESSION_STORE
                        (default; this gateway's) | jetstream (a JetStream KV bucket
                        that all gateways share: a session goes on at another gateway
                        after its own died; needs nats-server -js; docs/scale-out.md)
  --session-store-bucket <name> jetstream: the KV bucket (default modelnode_sessions) env MODELNODE_SESSION_STORE_BUCKET
  --session-store-replicas <n> jetstream: its copies over a NATS cluster, 1-5 (default 1) env MODELNODE_SESSION_STORE_REPLICAS
  --otlp-traces-endpoint <url> export OpenTelemetry traces over OTLP/HTTP,        env MODELNODE_OTLP_TRACES_ENDPOINT
                        e.g. to http://localhost:4318 (docs/tracing.md)
  --otlp-service-name <name> their service.name (default modelnode)               env OTEL_SERVICE_NAME
  -h, --help            show this help

Also from the environment: MODELNODE_NODE_ID, MODELNODE_AUTH_SECRET,
MODELNODE_AUTH_KEY_HASHES (comma-separated "sha256:<hex>" hashes),
MODELNODE_ALLOWED_ORIGINS (comma-separated; WebSocket upgrades and HTTP requests from other
origins get 403), MODELNODE_ALLOWED_HOSTS (comma-separated host names a request on a loopback
address may carry besides localhost and IP addresses; "*" = any), MODELNODE_PLUGINS (JSON: {"<plugin>": {options}}, merged over the file's
"plugins"), MODELNODE_LOG_FORMAT (pretty|json; default pretty at a terminal, JSON otherwise).
Scale-out: --role gateway serves clients and runs the models on NATS workers; --role worker
opens no port and runs the models for gateways (npm run cluster starts a local set).
Precedence: flags > environment > config file > defaults.

On the same port: the WebSocket protocol, the playground page at / (config "playground"), the
OpenAI API (/v1/models, /v1/completions, /v1/chat/completions; config "openai"), the Anthropic
API (/v1/messages, /v1/messages/count_tokens; config "anthropic"), the Ollama API (/api/tags,
/api/show, /api/ps, /api/version, /api/generate, /api/chat; config "ollama"), GET /metrics
(config "metrics"), /livez, /readyz, /health, /stats, /asyncapi.json.`;
