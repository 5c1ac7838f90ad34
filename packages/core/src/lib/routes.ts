/** Turns plugins' route definitions into served routes, and core's own operator endpoints. */
import type { DependencyContainer, InjectionToken } from "tsyringe";
import type { ZodType } from "zod";
import type { HandlerContext } from "./context.js";
import { isRouteDefinition, type HttpRequest, type ResolvedRoute, type RouteDefinition } from "./http-route.js";
import { RegistryError } from "./registry.js";
import { describeToken } from "./services.js";

export function resolveRoutes(entries: readonly { plugin: string; route: RouteDefinition }[], container: DependencyContainer): ResolvedRoute[] {
  return entries.map(({ plugin, route }) => {
    const name = route.name ?? `${route.method} ${route.path}`;
    const where = `route ${route.method} ${route.path} (plugin "${plugin}")`;
    if (!isRouteDefinition(route)) throw new RegistryError(`plugin "${plugin}" lists a route that was not made by defineRoute(...)`);
    if (typeof route.path !== "string" || !route.path.startsWith("/")) throw new RegistryError(`${where}: the path must start with "/"`);
    const resolve = <T>(token: InjectionToken<T>): T => container.resolve(token);
    let schema: ZodType | undefined;
    try {
      schema = typeof route.schema === "function" ? (route.schema as (r: typeof resolve) => ZodType)(resolve) : route.schema;
    } catch (error) {
      throw new RegistryError(`${where}: its schema function failed: ${(error as Error).message}`);
    }
    const deps: Record<string, unknown> = {};
    for (const [key, token] of Object.entries(route.inject ?? {})) {
      if (!container.isRegistered(token as InjectionToken<unknown>, true)) {
        throw new RegistryError(`${where} injects ${describeToken(token as InjectionToken<unknown>)} as "${key}", which no plugin provides`);
      }
      deps[key] = container.resolve(token as InjectionToken<unknown>);
    }
    const handle = route.handle;
    return {
      method: route.method,
      path: route.path,
      name,
      plugin,
      schema,
      maxBodyBytes: route.maxBodyBytes,
      guarded: route.guarded ?? true,
      formatError: route.formatError,
      handle: (req: HttpRequest, ctx: HandlerContext) => handle(req, ctx, deps),
    };
  });
}

/** An operator endpoint of core itself: unguarded, uncounted. */
export function operatorRoute(path: string, handle: (req: HttpRequest) => { status: number; json: unknown }): ResolvedRoute {
  return {
    method: "GET",
    path,
    name: `GET ${path}`,
    plugin: "core",
    schema: undefined,
    maxBodyBytes: undefined,
    guarded: false,
    formatError: undefined,
    handle: (req: HttpRequest) => {
      const { status, json } = handle(req);
      return { status, json, headers: { "cache-control": "no-store" } };
    },
  };
}
