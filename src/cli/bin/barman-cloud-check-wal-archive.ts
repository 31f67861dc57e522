#!/usr/bin/env node
import { runCli } from '../main.js';

process.exitCode = await runCli('barman-cloud-check-wal-archive', process.argv.slice(2));
