// Heartbeat (RFC 6455 §5.5.2–§5.5.3): ping a peer that went quiet, drop one that stays quiet.
import { CloseCode } from '../protocol/constants.js';
import { ErrorCode, NetworkError } from '../protocol/errors.js';
import { ALIVE, PING_OUTSTANDING } from './output.js';
import type { ConnectionHost } from './host.js';

/**
 * One heartbeat tick: a peer that sent nothing since the last tick (and did not drain our
 * output), though pinged then, is dropped; an idle one is pinged. A server ticks all its
 * clients from one timer; a client has a timer of its own (`startHeartbeat`).
 */
export function heartbeatTick(host: ConnectionHost): void {
  const conn = host.conn;
  if (conn.state.kind !== 'open') return;
  if (host.has(ALIVE)) {
    host.set(ALIVE, false);
    host.set(PING_OUTSTANDING, false);
    return;
  }
  if (host.has(PING_OUTSTANDING)) {
    host.fault(new NetworkError(ErrorCode.HeartbeatTimeout, 'the peer did not answer a ping', { closeCode: CloseCode.Abnormal }));
    host.socket.destroy();
    return;
  }
  host.set(PING_OUTSTANDING, true);
  conn.ping();
}

/** A heartbeat of the connection's own, every `interval` ms, stopped when it closes. */
export function startHeartbeat(host: ConnectionHost, interval: number): void {
  host.timer = setInterval(heartbeatTick, interval, host);
  host.timer.unref?.();
}
