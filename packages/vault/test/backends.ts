/** The two backends every suite runs against, with their raw primitives. */
import type { Vault } from '@ockam/core';
import { createVault } from '../src/index.js';
import { noblePrimitives } from '../src/internal/noble-primitives.js';
import { nodePrimitives } from '../src/internal/node-primitives.js';
import type { Primitives } from '../src/internal/primitives.js';

export interface Backend {
  name: 'node' | 'noble';
  vault: () => Vault;
  primitives: Primitives;
}

export const backends: Backend[] = [
  { name: 'node', vault: () => createVault('node'), primitives: nodePrimitives },
  { name: 'noble', vault: () => createVault('noble'), primitives: noblePrimitives },
];
