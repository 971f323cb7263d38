// permessage-deflate: ws13 against `ws` 8 from npm, in both directions, in every mode.
import { after } from 'node:test';
import { registerDeflatePair } from './deflate-scenarios.js';
import { killAllChildren } from './peers.js';

after(killAllChildren);

registerDeflatePair('ws13', 'ws');
registerDeflatePair('ws', 'ws13');
