#!/usr/bin/env node
import { runCli } from '../main.js';

process.exitCode = await runCli('pgstow', process.argv.slice(2));
