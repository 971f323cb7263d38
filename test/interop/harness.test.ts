// Harness self-check: the same scenarios between the two reference peers, `ws` and Python
// `websockets`, with no ws13 involved. If one of these fails, the harness or a Python peer
// script is wrong, not ws13.
import { after } from 'node:test';
import { killAllChildren } from './peers.js';
import { registerPair } from './scenarios.js';

after(killAllChildren);

registerPair('ws', 'python');
registerPair('python', 'ws');
