/** A configuration problem, worded for the person who wrote the config: "config error: port: …". */
import type { z } from "@modelnode/core";

export class ConfigError extends Error {
  constructor(message: string) {
    super(`config error: ${message}`);
    this.name = "ConfigError";
  }

  /** One line per issue; `origin` says where a field came from (e.g. "PORT", "--port", the file). */
  static fromZod(error: z.ZodError, origin: (path: string[]) => string | undefined = () => undefined): ConfigError {
    const lines = error.issues.slice(0, 10).map((issue) => {
      const path = issue.path.map(String).join(".") || "(config)";
      // An unknown key's origin is that of the key itself (e.g. plugins.x from MODELNODE_PLUGINS).
      const at = issue.code === "unrecognized_keys" && issue.keys.length === 1 ? [...issue.path, issue.keys[0]] : issue.path;
      const from = origin(at.map(String));
      let message = issue.message;
      // zod's own wording is replaced; a schema's own message (e.g. "unknown plugin …") is kept.
      if (issue.code === "unrecognized_keys" && message.startsWith("Unrecognized key")) {
        message = `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
      }
      message = message.replace(/^Invalid input: /, "");
      return `${path}: ${message}${from ? ` (from ${from})` : ""}`;
    });
    return new ConfigError(lines.join("\n  "));
  }
}
