#!/usr/bin/env node
// `reskv` executable: runs the TypeScript CLI through tsx's loader (plain Node 20+).
import { register } from 'tsx/esm/api';

register();
await import('../main/cli.ts');
