#!/usr/bin/env node
import { runCli } from '../main.js';

process.exitCode = await runCli('barman-cloud-backup-list', process.argv.slice(2));
