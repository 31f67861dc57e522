#!/usr/bin/env node
// The compile cache first, then the program: every module it loads is served from the cache (compile-cache.ts).
import { enableCompileCache } from '../compile-cache.js';

enableCompileCache();
const { runAsProgram } = await import('../main.js');
await runAsProgram('barman-cloud-backup-list');
