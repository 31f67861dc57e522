#!/usr/bin/env node
import { runCli } from '../main.js';

process.exitCode = await runCli('barman-cloud-backup-show', process.argv.slice(2));
