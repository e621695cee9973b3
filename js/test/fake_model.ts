/** A widget model driven by the test as the kernel would drive anywidget's model. */
import type { AnyModel } from "../src/anywidget";

export class FakeModel<T extends object> implements AnyModel<T> {
  readonly sent: unknown[] = [];
  private readonly handlers = new Map<string, ((...args: never[]) => void)[]>();
  constructor(private readonly traits: T) {}
  get<K extends keyof T>(key: K): T[K] {
    return this.traits[key];
  }
  set<K extends keyof T>(key: K, value: T[K]): void {
    this.traits[key] = value;
    this.emit(`change:${String(key)}`);
  }
  /** A state update from the kernel: every trait is set before any change event fires (as in Backbone). */
  update(state: Partial<T>): void {
    Object.assign(this.traits, state);
    for (const key of Object.keys(state)) this.emit(`change:${key}`);
  }
  save_changes(): void {}
  on(event: string, callback: (...args: never[]) => void): void {
    this.handlers.set(event, [...(this.handlers.get(event) ?? []), callback]);
  }
  off(event?: string | null, callback?: ((...args: never[]) => void) | null): void {
    if (event) this.handlers.set(event, (this.handlers.get(event) ?? []).filter((c) => c !== callback));
  }
  /** The binary buffers sent with each message (attachments), by index in `sent`. */
  readonly buffers = new Map<number, ArrayBuffer[]>();
  send(content: unknown, _callbacks?: unknown, buffers?: ArrayBuffer[]): void {
    if (buffers?.length) this.buffers.set(this.sent.length, buffers);
    this.sent.push(content);
  }
  emit(event: string, ...args: unknown[]): void {
    for (const c of this.handlers.get(event) ?? []) (c as (...a: unknown[]) => void)(...args);
  }
  /** The messages sent since the last call. */
  takeSent(): unknown[] {
    return this.sent.splice(0);
  }
}
