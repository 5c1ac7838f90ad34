/** `model-node --help`: every flag and environment variable (load-config.ts reads them). */
export const USAGE = `Usage: model-node [options]

  --port <n>            port to listen on (default 8702; 0 = any free port)        env PORT
  --host <addr>         address to bind (default: all interfaces)                 env HOST
  --config <file.json>  configuration file (see model-node.config.json)           env MODELNODE_CONFIG
  --model <id=dir[:dtype]> serve the model in <dir> as <id> (dtype: fp32, fp16, q8, int8, uint8,
                        q4, q4f16, bnb4 — which of its graphs); repeatable        env MODELNODE_MODELS (id=dir,id=dir:q8)
  --log-level <level>   fatal|error|warn|info|debug|trace|silent (default info)   env MODELNODE_LOG_LEVEL
  --threads <n>         ONNX Runtime threads per model (default: CPUs, at most 4) env MODELNODE_THREADS
  --speculative <m>     speculative decoding: ngram (prompt lookup) | off (default) env MODELNODE_SPECULATIVE
  --auth                require authentication (needs auth.keyHashes)             env MODELNODE_AUTH_REQUIRED
  --tls-cert <file>     serve wss:// with this PEM certificate (needs --tls-key)  env MODELNODE_TLS_CERT
  --tls-key <file>      the certificate's PEM private key                         env MODELNODE_TLS_KEY
  --role <role>         single (default) | gateway | worker (docs/scale-out.md)    env MODELNODE_ROLE
  --nats <url>          NATS server(s) for the gateway and worker roles           env MODELNODE_NATS
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
