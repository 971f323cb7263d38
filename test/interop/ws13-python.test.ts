// ws13 against Python `websockets` 10.4 (Debian python3-websockets), in both directions.
import { after } from 'node:test';
import { killAllChildren } from './peers.js';
import { registerPair } from './scenarios.js';

after(killAllChildren);

registerPair('ws13', 'python');
registerPair('python', 'ws13');
