/** DI token of the plugin's Authenticator (one per node). */
import type { InjectionToken } from "@modelnode/core";
import type { Authenticator } from "./authenticator.js";

export const AUTHENTICATOR: InjectionToken<Authenticator> = Symbol.for("modelnode.auth.authenticator");
