/**
 * Whether a widget view still reaches its kernel side.
 *
 * A view is disconnected for good when its model has no live comm. A model restored from saved notebook
 * state has none: ipywidgets marks the view's element with `jupyter-widgets-disconnected` when the view
 * is made. When the kernel restarts, the widget manager sets every model's `comm_live` to false and the
 * model triggers `comm_live_update` (anywidget drops the view's own listener for it, so the class does
 * not follow; we listen ourselves: `comm_live` only ever goes from true to false once a view exists).
 * The comm also dies with its kernel: a kernel that is dead, or replaced by another one (a new kernel
 * id), no longer holds this widget. A busy kernel is connected: messages to it wait until its cell ends.
 */

export const DISCONNECTED_CLASS = "jupyter-widgets-disconnected";

/** What we read of a Jupyter kernel connection (@jupyterlab/services' IKernelConnection). */
export interface KernelLike {
  readonly id: string;
  readonly status: string;
  readonly isDisposed?: boolean;
  readonly statusChanged?: SignalLike;
  readonly disposed?: SignalLike;
}

/** A Lumino signal, as far as we use it. */
export interface SignalLike {
  connect(slot: (...args: never[]) => void, thisArg?: unknown): boolean | void;
  disconnect(slot: (...args: never[]) => void, thisArg?: unknown): boolean | void;
}

/** The widget manager anywidget hands out as `model.widget_manager` (its `kernel`, where it has one). */
export interface ManagerLike {
  readonly kernel?: KernelLike | null;
}

export interface ConnectionFacts {
  /** The view's element carries ipywidgets' disconnected class. */
  disconnectedClass: boolean;
  /** The model reported a change of `comm_live` since the view was made. */
  commLost?: boolean;
  /** The widget manager's kernel now: undefined where the manager has no kernel notion (can't tell). */
  kernel: KernelLike | null | undefined;
  /** The id of the kernel the view started with (null if it had none or can't tell). */
  startKernelId: string | null;
}

/** Whether a view with these facts has lost its kernel side. */
export function isDisconnected(facts: ConnectionFacts): boolean {
  if (facts.disconnectedClass || facts.commLost) return true;
  const kernel = facts.kernel;
  if (kernel === undefined) return false;
  if (kernel === null) return facts.startKernelId !== null;
  if (kernel.isDisposed || kernel.status === "dead") return true;
  return facts.startKernelId !== null && kernel.id !== facts.startKernelId;
}

function managerKernel(manager: ManagerLike | undefined): KernelLike | null | undefined {
  if (!manager || !("kernel" in manager)) return undefined;
  try {
    return manager.kernel ?? null;
  } catch {
    return undefined;
  }
}

/** The model as far as the connection needs it (anywidget's model proxy). */
export interface ModelLike {
  on(event: string, callback: (...args: never[]) => void): void;
  off(event?: string | null, callback?: ((...args: never[]) => void) | null): void;
  readonly widget_manager?: ManagerLike;
}

/** Follows the connection of the view whose element is `el`; `onChange` runs when it is lost. */
export class Connection {
  private readonly startKernelId: string | null;
  private readonly kernel: KernelLike | null | undefined;
  private readonly manager: ManagerLike | undefined;
  private readonly observer: MutationObserver | null;
  private lost = false;
  private commLost = false;
  private readonly onKernel = (): void => this.check();
  private readonly onCommLive = (): void => {
    this.commLost = true;
    this.check();
  };

  constructor(
    private readonly el: HTMLElement,
    private readonly model: ModelLike,
    private readonly onChange: (connected: boolean) => void,
  ) {
    this.manager = model.widget_manager;
    this.kernel = managerKernel(this.manager);
    model.on("comm_live_update", this.onCommLive);
    this.startKernelId = this.kernel?.id ?? null;
    this.observer = typeof MutationObserver === "undefined" ? null : new MutationObserver(() => this.check());
    this.observer?.observe(el, { attributes: true, attributeFilter: ["class"] });
    this.kernel?.statusChanged?.connect(this.onKernel);
    this.kernel?.disposed?.connect(this.onKernel);
    this.lost = this.compute();
  }

  /** True while the view reaches its kernel side (re-checked on every call). */
  get connected(): boolean {
    this.check();
    return !this.lost;
  }

  /** Re-read the facts; tells `onChange` when the connection was just lost. A lost connection stays lost. */
  check(): void {
    if (this.lost || !this.compute()) return;
    this.lost = true;
    this.onChange(false);
  }

  dispose(): void {
    this.model.off("comm_live_update", this.onCommLive);
    this.observer?.disconnect();
    this.kernel?.statusChanged?.disconnect(this.onKernel);
    this.kernel?.disposed?.disconnect(this.onKernel);
  }

  private compute(): boolean {
    return isDisconnected({
      disconnectedClass: this.el.classList.contains(DISCONNECTED_CLASS),
      commLost: this.commLost,
      kernel: managerKernel(this.manager),
      startKernelId: this.startKernelId,
    });
  }
}
