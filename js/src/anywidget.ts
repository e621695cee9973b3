/** The parts of anywidget's front-end API we use (anywidget >= 0.9). */

import type { ManagerLike } from "./connection";

export interface AnyModel<T> {
  get<K extends keyof T>(key: K): T[K];
  set<K extends keyof T>(key: K, value: T[K]): void;
  save_changes(): void;
  on(event: string, callback: (...args: never[]) => void): void;
  off(event?: string | null, callback?: ((...args: never[]) => void) | null): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[]): void;
  /** The ipywidgets widget manager (anywidget hands it out; absent in tests). */
  readonly widget_manager?: ManagerLike;
}

export interface RenderProps<T> {
  model: AnyModel<T>;
  el: HTMLElement;
  /** Aborted when the view is removed (anywidget >= 0.10). */
  signal?: AbortSignal;
}

/** Subscribe to model events until `dispose()`. */
export class Subscriptions<T> {
  private readonly items: [string, (...args: never[]) => void][] = [];

  constructor(private readonly model: AnyModel<T>) {}

  on(event: string, callback: (...args: never[]) => void): void {
    this.model.on(event, callback);
    this.items.push([event, callback]);
  }

  dispose(): void {
    for (const [event, callback] of this.items) this.model.off(event, callback);
    this.items.length = 0;
  }
}
