#!/usr/bin/env node
// The CLI speaks releasedesk's HTTP API; Node 24 runs its TypeScript as it runs the service's (type stripping).
// It runs whichever path started it: npm's links (node_modules/.bin/releasedesk from npx, npm link's
// global bin) are symlinks to this file, so the CLI is called here rather than detected as main module.
const { run } = await import('../services/cli/main.ts');
process.exitCode = await run(process.argv.slice(2));
