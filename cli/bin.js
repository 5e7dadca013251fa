#!/usr/bin/env node
// The package bin. kdflow runs its TypeScript directly (Node >= 22.18 strips types); see docs/adr/0001.
import { main } from './main.ts';

process.exitCode = await main(process.argv.slice(2));
