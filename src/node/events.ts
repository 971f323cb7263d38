// Event objects for the WHATWG-shaped listeners (addEventListener, onmessage, …).
// Node 20 has no global CloseEvent, so all four are defined here, alike.

export class WsEvent {
  constructor(
    readonly type: string,
    readonly target: unknown,
  ) {}
}

export class WsMessageEvent extends WsEvent {
  constructor(
    target: unknown,
    readonly data: unknown,
  ) {
    super('message', target);
  }
}

export class WsCloseEvent extends WsEvent {
  constructor(
    target: unknown,
    readonly code: number,
    readonly reason: string,
    readonly wasClean: boolean,
  ) {
    super('close', target);
  }
}

export class WsErrorEvent extends WsEvent {
  readonly message: string;
  constructor(
    target: unknown,
    readonly error: Error,
  ) {
    super('error', target);
    this.message = error.message;
  }
}

export type EventListenerLike = ((ev: WsEvent) => void) | { handleEvent(ev: WsEvent): void };
