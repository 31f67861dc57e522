#!/usr/bin/env node
import { runAsProgram } from '../main.js';

await runAsProgram('barman-cloud-wal-restore');
