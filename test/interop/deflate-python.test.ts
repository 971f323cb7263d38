// permessage-deflate: ws13 against Python `websockets` 10.4, in both directions, in every mode.
import { after } from 'node:test';
import { registerDeflatePair } from './deflate-scenarios.js';
import { killAllChildren } from './peers.js';

after(killAllChildren);

registerDeflatePair('ws13', 'python');
registerDeflatePair('python', 'ws13');
