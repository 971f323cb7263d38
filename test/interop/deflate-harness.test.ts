// permessage-deflate harness self-check: every mode between the two reference peers, `ws`
// and Python `websockets`, with no ws13 involved. A failure here means the harness (or a
// peer's behaviour assumed by a mode) is wrong, not ws13.
import { after } from 'node:test';
import { registerDeflatePair } from './deflate-scenarios.js';
import { killAllChildren } from './peers.js';

after(killAllChildren);

registerDeflatePair('ws', 'python');
registerDeflatePair('python', 'ws');
