/**
 * A piece of markdown shown block by block: a block is rendered once it is final, and only the changed
 * tail is rendered again while text streams in (as MessageView does for a whole reply). Used for the
 * text between a reply's tool calls.
 */

import { splitBlocks } from "./blocks";
import { h } from "./dom";
import type { MarkdownRenderer } from "./markdown";

export class TextBlocks {
  readonly el: HTMLElement;
  private blocks: { src: string; el: HTMLElement }[] = [];
  private text: string | null = null;

  constructor(private readonly md: MarkdownRenderer) {
    this.el = h("div", { class: "ais-text" });
  }

  render(text: string): void {
    if (text === this.text) return;
    this.text = text;
    const sources = text === "" ? [] : splitBlocks(text);
    sources.forEach((src, i) => {
      const block = this.blocks[i];
      if (block && block.src === src) return;
      const html = this.md.render(src);
      if (block) {
        block.el.innerHTML = html;
        block.src = src;
      } else {
        const el = h("div", { class: "ais-block" });
        el.innerHTML = html;
        this.el.appendChild(el);
        this.blocks.push({ src, el });
      }
    });
    while (this.blocks.length > sources.length) this.blocks.pop()?.el.remove();
  }
}
