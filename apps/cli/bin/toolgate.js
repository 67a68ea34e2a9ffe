#!/usr/bin/env node
// The workspace's packages ship TypeScript source (no build step): compile on load.
require('@swc-node/register');
require('../src/main.ts');
