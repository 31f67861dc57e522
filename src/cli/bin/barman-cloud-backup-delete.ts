#!/usr/bin/env node
import { runCli } from '../main.js';

process.exitCode = await runCli('barman-cloud-backup-delete', process.argv.slice(2));
