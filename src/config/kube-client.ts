/**
 * @kubernetes/client-node, loaded once per process on first use. The build bundles the three classes pgstow
 * uses (KubeConfig, CustomObjectsApi, CoreV1Api) into dist/src/vendor/@kubernetes/client-node.mjs
 * (scripts/bundle-sdks.mjs): the plugin sidecar is a long-lived process with a memory limit, and the package
 * from node_modules costs it ~25 MiB of V8 heap and ~76 MiB RSS at load, the bundle ~7.5 MiB and ~30 MiB, and
 * 5.3 MiB and ~25 MiB since it leaves out the package index and the serializer's model classes (pgstow reads the
 * API server's JSON; measured for issue 12), and ~3.8 MiB less RSS again since it takes only undici's Agent,
 * ProxyAgent and fetch and only CoreV1's Secret read (2291 -> 1066 KiB), and ~1 MiB of heap less since it takes node:http
 * through require() (an ES import of node:http loads Node's own undici), and 1066 -> 895 KiB without undici's
 * experimental Milo parser. Without that file (a tsc-only build)
 * the package comes from node_modules, models and all. Both the Secret source and the plugin's API client load
 * it through here, so a process holds one copy.
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
