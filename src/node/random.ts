import { randomFillSync } from 'node:crypto';
import { pooledMaskSource } from '../protocol/mask.js';

/** Client mask keys from a pooled crypto-random buffer (RFC 6455 §10.3: unpredictable masks). */
export const randomMaskSource = pooledMaskSource((b) => randomFillSync(b));
