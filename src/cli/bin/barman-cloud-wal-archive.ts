#!/usr/bin/env node
import { runCli } from '../main.js';

process.exitCode = await runCli('barman-cloud-wal-archive', process.argv.slice(2));
