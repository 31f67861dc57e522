/**
 * The Go helpers the manifest tests run (built by scripts/build-go-tools.sh into .cache/bin): crd-validator
 * (the API server's CRD/schema/CEL validation) and manifest-render (kustomize and helm template).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export type Json = Record<string, any>;
export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const bin = (name: string): string => path.join(repo, '.cache', 'bin', name);
export const hasTool = (name: string): boolean => fs.existsSync(bin(name));

export function render(mode: 'kustomize' | 'helm', target: string, args: string[] = []): Json[] {
  return JSON.parse(execFileSync(bin('manifest-render'), [mode, path.join(repo, target), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 })) as Json[];
}

export interface CrdValidation { crdErrors: string[]; results: Array<{ name: string; errors: string[]; object: Json }> }

export function validateAgainstCrd(crdFile: string, objects: Array<{ name: string; object: Json }>): CrdValidation {
  return JSON.parse(execFileSync(bin('crd-validator'), [path.join(repo, crdFile)], { input: JSON.stringify(objects), encoding: 'utf8', maxBuffer: 64 << 20 })) as CrdValidation;
}
