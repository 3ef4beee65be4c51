#!/usr/bin/env node
// Entry for the installed bin: register tsx, then run the TypeScript CLI.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
