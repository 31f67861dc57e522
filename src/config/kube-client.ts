/**
 * @kubernetes/client-node, loaded once per process on first use. The build bundles only what pgstow uses
 * (KubeConfig, CustomObjectsApi, CoreV1Api's Secret read; undici's Agent, ProxyAgent and fetch; no model classes:
 * pgstow reads the API server's JSON) into dist/src/vendor/@kubernetes/client-node.mjs (scripts/bundle-sdks.mjs),
 * because the plugin sidecar is a long-lived process with a memory limit: the package from node_modules costs it
 * ~25 MiB of V8 heap and ~76 MiB RSS at load, the bundle a fraction (measured for issue 12, docs/cnpg-plugin.md).
 * Without that file (a tsc-only build) the package comes from node_modules, models and all. Both the Secret
 * source and the plugin's API client load it through here, so a process holds one copy.
 */
export type KubeModule = Pick<typeof import('@kubernetes/client-node'), 'KubeConfig' | 'CustomObjectsApi' | 'CoreV1Api'>;

const BUNDLE = new URL('../vendor/@kubernetes/client-node.mjs', import.meta.url).href;

/** Node caches each module: every call after the first resolves to the same copy. */
export async function loadKubeClient(): Promise<KubeModule> {
  try {
    return await (import(BUNDLE) as Promise<KubeModule>);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw err;
    return import('@kubernetes/client-node');
  }
}
