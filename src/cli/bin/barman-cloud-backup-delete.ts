#!/usr/bin/env node
import { runAsProgram } from '../main.js';

await runAsProgram('barman-cloud-backup-delete');
