#!/usr/bin/env node
// The CLI speaks releasedesk's HTTP API; TypeScript is loaded through tsx like the service itself.
import { register } from 'tsx/esm/api';

register();
await import('../services/cli/main.ts');
