/** A tiny element builder and helpers shared by the views. */

export interface Props {
  class?: string;
  text?: string;
  attrs?: Record<string, string>;
  title?: string;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.title) el.title = props.title;
  for (const [name, value] of Object.entries(props.attrs ?? {})) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

/** A button with a visible label (or an icon label) and an accessible name. */
export function button(label: string, name: string, onClick: (ev: MouseEvent) => void, cls = ""): HTMLButtonElement {
  const b = h("button", { class: `ais-button ${cls}`.trim(), text: label, attrs: { type: "button" } });
  if (name !== label) b.setAttribute("aria-label", name);
  b.addEventListener("click", onClick);
  return b;
}

/** Copy text to the clipboard (falls back to execCommand where the async API is unavailable). */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = h("textarea", { attrs: { "aria-hidden": "true" } });
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** Show `label` on `b` for a moment (e.g. "Copied"). */
export function flash(b: HTMLButtonElement, label: string): void {
  const old = b.textContent;
  b.textContent = label;
  window.setTimeout(() => {
    b.textContent = old;
  }, 1200);
}

let counter = 0;
/** An id unique in this page, for client ids and aria wiring. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}`;
}

/**
 * `text` as nodes, with each `backticked` part as inline code (hints and errors from the kernel write
 * commands that way: "run `%ai_session keys set openai`"). Text only: nothing in `text` becomes markup.
 */
export function withCode(text: string): (Node | string)[] {
  const nodes: (Node | string)[] = [];
  let last = 0;
  for (const m of text.matchAll(/`([^`\n]+)`/g)) {
    const index = m.index ?? 0;
    if (index > last) nodes.push(text.slice(last, index));
    nodes.push(h("code", { class: "ais-inline-code", text: m[1] }));
    last = index + m[0].length;
  }
  if (last < text.length) nodes.push(text.slice(last));
  return nodes;
}
