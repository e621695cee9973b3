/**
 * A piece of markdown shown block by block: a block is rendered once it is final, and only the changed
 * tail is rendered again while text streams in (as MessageView does for a whole reply). Used for the
 * text between a reply's tool calls.
 */

import { splitBlocks } from "./blocks";
import { h } from "./dom";
import type { MarkdownRenderer } from "./markdown";

/** One rendered markdown block and the source it was rendered from. */
export interface Block {
  src: string;
  el: HTMLElement;
}

/**
 * Bring `blocks` (shown in `container`) in line with `text`: blocks whose source is unchanged are kept,
 * changed ones rendered again, new ones appended, surplus ones removed.
 */
export function renderBlocks(container: HTMLElement, blocks: Block[], text: string, md: MarkdownRenderer): void {
  const sources = text === "" ? [] : splitBlocks(text);
  sources.forEach((src, i) => {
    const block = blocks[i];
    if (block && block.src === src) return;
    const html = md.render(src);
    if (block) {
      block.el.innerHTML = html;
      block.src = src;
    } else {
      const el = h("div", { class: "ais-block" });
      el.innerHTML = html;
      container.appendChild(el);
      blocks.push({ src, el });
    }
  });
  while (blocks.length > sources.length) blocks.pop()?.el.remove();
}

export class TextBlocks {
  readonly el: HTMLElement;
  private blocks: Block[] = [];
  private text: string | null = null;

  constructor(private readonly md: MarkdownRenderer) {
    this.el = h("div", { class: "ais-text" });
  }

  render(text: string): void {
    if (text === this.text) return;
    this.text = text;
    renderBlocks(this.el, this.blocks, text, this.md);
  }
}
