// Imported first by every test file of this suite: one variable, SUT, picks the peer under
// test in both roles. The client adapter (../client/cut.ts) reads CUT, so SUT=ws is
// forwarded to it unless CUT is set explicitly.
if (process.env.SUT !== undefined && process.env.CUT === undefined) process.env.CUT = process.env.SUT;

export const PEER: 'ws' | 'ws13' = (process.env.SUT ?? process.env.CUT) === 'ws' ? 'ws' : 'ws13';
