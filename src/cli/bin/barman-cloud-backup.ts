#!/usr/bin/env node
// start.ts: the compile cache, then the program (the WAL commands from their single-file bundle).
import { start } from '../start.js';

await start('barman-cloud-backup');
