/**
 * Parts of a message beyond its text: a reply's tool calls with their results, in order with its text,
 * and the objects attached to a user message (chips that expand to exactly what was sent).
 *
 * A tool call is a disclosure (`<details>`): its summary names the tool, a short line of its arguments
 * and how it went (running…, done, failed, not run); opened, it shows the arguments (code highlighted in
 * its language) and the result (text, images; an error marked as one). Images are fetched from the
 * kernel only when shown (a saved notebook without a kernel names them instead).
 */

import { h } from "./dom";
import type { MarkdownRenderer } from "./markdown";
import {
  argumentBlocks,
  argumentsLine,
  type Attachment,
  CALL_STATE_TEXT,
  callState,
  describeBinary,
  fenced,
  type Segment,
  THUMBNAIL_TYPES,
} from "./parts";
import type { MessagePart, ToolCallPartData, ToolResultPartData } from "./protocol";
import { TextBlocks } from "./text_blocks";

/** Where image bytes come from: a data URL for a blob of this session, or null (no kernel, unknown). */
export interface BlobSource {
  image(blob: string): Promise<string | null>;
}

/** What the chat knows beyond a message: image bytes, and the calls waiting for the user's approval. */
export interface PartsContext {
  blobs: BlobSource | null;
  waiting: ReadonlySet<string>;
}

/** Shows parts (text, images, files, structured data) of a tool result or an attachment. */
function partNodes(parts: readonly MessagePart[], blobs: BlobSource | null): Node[] {
  return parts.map((part) => {
    if (part.kind === "text") return h("pre", { class: "ais-part-text", text: part.text });
    if (part.kind === "structured") return h("pre", { class: "ais-part-text", text: JSON.stringify(part.data, null, 2) });
    if (part.kind === "image") return imageNode(part.media_type, part.blob, part.size, blobs);
    if (part.kind === "file") return h("span", { class: "ais-part-file", text: `📄 ${part.name} (${describeBinary(part.media_type, part.size)})` });
    if (part.kind === "tool_result") return h("div", { class: "ais-part-nested" }, ...partNodes(part.parts, blobs));
    return h("span", { text: `[${part.kind}]` });
  });
}

function imageNode(mediaType: string, blob: string | null, size: number | null, blobs: BlobSource | null): HTMLElement {
  const label = `image (${describeBinary(mediaType, size)})`;
  const el = h("span", { class: "ais-part-image", text: label });
  if (blob && blobs && THUMBNAIL_TYPES.has(mediaType)) {
    void blobs.image(blob).then((url) => {
      if (!url) return;
      const img = h("img", { class: "ais-thumb", attrs: { alt: label } });
      img.src = url;
      el.replaceChildren(img);
    });
  }
  return el;
}

/** A tool call and its result, as a disclosure. */
class ToolCard {
  readonly el: HTMLDetailsElement;
  private readonly state: HTMLElement;
  private readonly result: HTMLElement;
  private resultKey: string | null = null;
  private opened = false;

  constructor(private readonly call: ToolCallPartData, private readonly md: MarkdownRenderer, private readonly blobs: BlobSource | null) {
    this.state = h("span", { class: "ais-tool-state" });
    const summary = h("summary", { class: "ais-tool-summary" },
      h("span", { class: "ais-tool-icon", text: "⚙", attrs: { "aria-hidden": "true" } }),
      h("span", { class: "ais-tool-name", text: call.name }),
      h("span", { class: "ais-tool-args", text: argumentsLine(call.arguments) }),
      this.state);
    const args = h("div", { class: "ais-tool-arguments" }, h("div", { class: "ais-tool-heading", text: "Arguments" }));
    for (const block of argumentBlocks(call.arguments)) {
      const body = h("div", { class: "ais-tool-argument" }, h("span", { class: "ais-tool-arg-name", text: block.name }));
      if (block.lang) {
        const code = h("div", { class: "ais-block" });
        code.innerHTML = this.md.render(fenced(block.text, block.lang));
        body.appendChild(code);
      } else {
        body.appendChild(h("pre", { class: "ais-part-text", text: block.text }));
      }
      args.appendChild(body);
    }
    if (Object.keys(call.arguments).length === 0) args.appendChild(h("span", { class: "ais-tool-none", text: "(none)" }));
    this.result = h("div", { class: "ais-tool-result" });
    this.el = h("details", { class: "ais-tool", attrs: { "data-call-id": call.id, "data-tool": call.name } },
      summary, args, this.result) as HTMLDetailsElement;
    this.el.addEventListener("toggle", () => {
      if (this.el.open && !this.opened) {
        this.opened = true;
        this.showResult(this.last, true);
      }
    });
  }

  private last: ToolResultPartData | null = null;

  update(result: ToolResultPartData | null, waiting: ReadonlySet<string>): void {
    const state = callState(result);
    this.el.dataset.state = state;
    this.state.textContent = state === "running" && waiting.has(this.call.id) ? "waiting for your approval" : CALL_STATE_TEXT[state];
    this.state.className = `ais-tool-state ais-tool-state-${state}`;
    this.last = result;
    this.showResult(result, this.opened);
  }

  /** The result's parts (built once it is there, and images only once the card was opened). */
  private showResult(result: ToolResultPartData | null, withImages: boolean): void {
    const key = result ? `${JSON.stringify(result)}:${withImages}` : "";
    if (key === this.resultKey) return;
    this.resultKey = key;
    if (!result) {
      this.result.replaceChildren();
      return;
    }
    const heading = result.is_error ? "Error" : "Result";
    const box = h("div", { class: result.is_error ? "ais-tool-output ais-tool-error" : "ais-tool-output" },
      ...partNodes(result.parts, withImages ? this.blobs : null));
    if (result.is_error) box.setAttribute("role", "note");
    this.result.replaceChildren(h("div", { class: "ais-tool-heading", text: heading }), box);
  }
}

/** A reply's segments (text and tool calls, in order) inside a message body. */
export class PartsView {
  private readonly items = new Map<string, { el: HTMLElement; text?: TextBlocks; card?: ToolCard }>();

  constructor(
    private readonly body: HTMLElement,
    private readonly md: MarkdownRenderer,
    private readonly context: PartsContext,
  ) {}

  render(segments: readonly Segment[]): void {
    const order: HTMLElement[] = [];
    const seen = new Set<string>();
    let texts = 0;
    segments.forEach((segment, i) => {
      const key = segment.kind === "text" ? `text-${texts++}` : segment.kind === "tool" ? `tool-${segment.call.id}` : `part-${i}`;
      seen.add(key);
      let item = this.items.get(key);
      if (segment.kind === "text") {
        if (!item) {
          const text = new TextBlocks(this.md);
          item = { el: text.el, text };
          this.items.set(key, item);
        }
        item.text?.render(segment.text);
      } else if (segment.kind === "tool") {
        if (!item) {
          const card = new ToolCard(segment.call, this.md, this.context.blobs);
          item = { el: card.el, card };
          this.items.set(key, item);
        }
        item.card?.update(segment.result, this.context.waiting);
      } else {
        const parts = segment.kind === "result" ? [segment.result] : [segment.part];
        const el = h("div", { class: "ais-part-other" }, ...partNodes(parts, this.context.blobs));
        if (item) item.el.replaceWith(el);
        item = { el };
        this.items.set(key, item);
      }
      order.push(item.el);
    });
    for (const [key, item] of this.items) {
      if (!seen.has(key)) {
        item.el.remove();
        this.items.delete(key);
      }
    }
    order.forEach((el, i) => {
      if (this.body.children[i] !== el) this.body.insertBefore(el, this.body.children[i] ?? null);
    });
    while (this.body.children.length > order.length) this.body.lastElementChild?.remove();
  }
}

/** The chips of a user message's attachments: each a button that shows exactly what was sent. */
export class AttachmentsView {
  readonly el: HTMLElement;
  private key = "";

  constructor(private readonly blobs: BlobSource | null) {
    this.el = h("div", { class: "ais-attachments" });
    this.el.hidden = true;
  }

  update(attachments: readonly Attachment[], messageName: string): void {
    const key = JSON.stringify([attachments, messageName]);
    if (key === this.key) return;
    this.key = key;
    this.el.hidden = attachments.length === 0;
    this.el.replaceChildren(...attachments.map((a, i) => this.chip(a, `${messageName}-${i}`)));
  }

  private chip(attachment: Attachment, id: string): HTMLElement {
    const panelId = `ais-attachment-${id.replace(/\s+/g, "-")}-${Math.random().toString(36).slice(2, 8)}`;
    const panel = h("div", { class: "ais-attachment-body", attrs: { id: panelId, role: "region", "aria-label": `Sent for ${attachment.label}` } });
    panel.hidden = true;
    const chip = h("button", {
      class: "ais-chip",
      attrs: { type: "button", "aria-expanded": "false", "aria-controls": panelId, "aria-label": `Attached ${attachment.label}` },
    }, h("span", { class: "ais-chip-icon", text: "@", attrs: { "aria-hidden": "true" } }), attachment.label);
    chip.addEventListener("click", () => {
      const open = chip.getAttribute("aria-expanded") !== "true";
      chip.setAttribute("aria-expanded", String(open));
      panel.hidden = !open;
      if (open && !panel.hasChildNodes()) panel.append(...partNodes(attachment.parts, this.blobs));
    });
    return h("div", { class: "ais-attachment" }, chip, panel);
  }
}
