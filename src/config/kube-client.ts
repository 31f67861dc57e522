/**
 * The Kubernetes API client, loaded once per process on first use: src/config/kube-rest.ts, the calls pgstow makes
 * as plain JSON over node:https, with the class and method names of @kubernetes/client-node. The plugin sidecar is
 * a long-lived process with a memory limit, and the package (even bundled down to the three classes used) cost it
 * 7.5 MiB of V8 heap and 27-35 MiB RSS (measured for issue 12); the package now loads only for a kubeconfig that
 * needs its authentication code (exec plugins, auth providers, proxies). Both the Secret source and the plugin's
 * API client load it through here.
 */
export type KubeModule = typeof import('./kube-rest.js');

/** Node caches each module: every call after the first resolves to the same copy. */
export function loadKubeClient(): Promise<KubeModule> {
  return import('./kube-rest.js');
}
