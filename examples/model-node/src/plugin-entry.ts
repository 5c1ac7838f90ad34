/**
 * How a plugin joins the example node together with its options: an entry names it, gives the
 * zod schema of its options and a factory. The node validates `plugins.<name>` of the config
 * (file, MODELNODE_PLUGINS or createModelNode's argument) with that schema, then calls
 * `create(options)`. List entries in extra-plugins.ts to add them to `npm start`.
 */
import type { Plugin, z, ZodType } from "@modelnode/core";

export interface PluginEntry<S extends ZodType = ZodType> {
  /**
   * The plugin's name: the key of its options in the config (`plugins.<name>`), and the name
   * the plugin made by `create` must have.
   */
  name: string;
  /**
   * Its options' rules and defaults. Use `z.strictObject({...})` so that a misspelt option is an
   * error naming it. A config without a `plugins.<name>` section gives it `{}`, so give every
   * option a default unless the config must set it.
   */
  options: S;
  /** Makes the plugin from its validated options (defaults filled in). */
  create(options: z.output<S>): Plugin | Promise<Plugin>;
}

/** What createModelNode's `plugins` may list: entries configured from `plugins.<name>`, or ready-made plugins. */
export type ExtraPlugin = PluginEntry<any> | Plugin;

/** Gives an entry its type: `create` receives exactly what `options` outputs. */
export function pluginEntry<S extends ZodType>(entry: PluginEntry<S>): PluginEntry<S> {
  return entry;
}

export function isPluginEntry(plugin: ExtraPlugin): plugin is PluginEntry<any> {
  const entry = plugin as Partial<PluginEntry>;
  return typeof entry.create === "function" && typeof entry.options?.safeParse === "function";
}

/** The entries among `plugins`, checked: each has a name, and no two share one. */
export function pluginEntries(plugins: readonly ExtraPlugin[]): PluginEntry<any>[] {
  const entries = plugins.filter(isPluginEntry);
  const seen = new Set<string>();
  for (const { name } of entries) {
    if (typeof name !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new TypeError(`plugin entry name ${JSON.stringify(name)}: expected 1 to 64 letters, digits, "_", "-" or "."`);
    }
    if (seen.has(name)) throw new TypeError(`two plugin entries are named "${name}"`);
    seen.add(name);
  }
  return entries;
}

/** Makes the plugins: entries from their validated `plugins.<name>` options, ready-made ones as they are. */
export async function createExtraPlugins(plugins: readonly ExtraPlugin[], options: Record<string, unknown>): Promise<Plugin[]> {
  const made: Plugin[] = [];
  for (const plugin of plugins) {
    if (!isPluginEntry(plugin)) {
      made.push(plugin);
      continue;
    }
    let created: Plugin;
    try {
      created = await plugin.create(options[plugin.name]);
    } catch (error) {
      throw new Error(`plugins.${plugin.name}: ${(error as Error).message}`, { cause: error });
    }
    if (created?.name !== plugin.name) {
      throw new TypeError(`plugins.${plugin.name}: create() made a plugin named "${created?.name}"; name the entry after its plugin`);
    }
    made.push(created);
  }
  return made;
}
