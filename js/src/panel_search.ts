/**
 * The hub panel's Search sessions box: words typed are searched in every stored message of this
 * notebook's sessions (or of all notebooks'), best match first; a hit opens its session's chat scrolled
 * to the message. Snippets show the matched words marked (as text nodes: nothing from a message becomes
 * markup).
 */

import { h } from "./dom";
import { relativeTime } from "./format";
import type { PanelViewMsg, SearchHitData, SearchResultsMsg } from "./protocol";

const DEBOUNCE_MS = 250;

export class PanelSearch {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly everywhere: HTMLInputElement;
  private readonly status: HTMLElement;
  private readonly results: HTMLElement;
  private timer = 0;
  private asked = "";

  constructor(
    private readonly act: (msg: PanelViewMsg) => void,
    private readonly open: (hit: SearchHitData) => void,
  ) {
    this.input = h("input", { class: "ais-search-input", attrs: { type: "search", "aria-label": "Search sessions", placeholder: "Search sessions" } });
    this.input.addEventListener("input", () => this.schedule());
    this.input.addEventListener("keydown", (e) => {
      e.stopPropagation(); // JupyterLab's notebook shortcuts stay out of the box
      if (e.key === "Enter") {
        e.preventDefault();
        this.run();
      } else if (e.key === "ArrowDown") {
        e.preventDefault();
        this.results.querySelector<HTMLButtonElement>("button")?.focus();
      }
    });
    this.everywhere = h("input", { attrs: { type: "checkbox" } });
    this.everywhere.addEventListener("change", () => this.run());
    const scope = h("label", { class: "ais-search-scope" }, this.everywhere, " all notebooks");
    this.status = h("div", { class: "ais-search-status", attrs: { role: "status", "aria-live": "polite" } });
    this.results = h("ul", { class: "ais-search-results", attrs: { "aria-label": "Search results" } });
    this.results.addEventListener("keydown", (e) => this.onResultsKey(e));
    this.el = h("div", { class: "ais-search" }, h("div", { class: "ais-search-bar" }, this.input, scope), this.status, this.results);
  }

  set disabled(value: boolean) {
    this.input.disabled = value;
    this.everywhere.disabled = value;
  }

  onResults(msg: SearchResultsMsg): void {
    if (msg.query !== this.asked) return; // an older search answered late
    const now = Date.now() / 1000;
    this.status.textContent = msg.error ?? (msg.hits.length ? `${msg.hits.length} message${msg.hits.length === 1 ? "" : "s"} found` : "No message matches.");
    this.results.replaceChildren(...msg.hits.map((hit) => {
      const snippet = h("span", { class: "ais-search-snippet" }, ...hit.highlights.map((piece) =>
        piece.match ? h("mark", { text: piece.text }) : piece.text));
      const open = h("button", { class: "ais-search-hit", attrs: { type: "button" } },
        h("span", { class: "ais-search-where", text: `${hit.session_name} · ${hit.role === "user" ? "you" : "reply"} · ${relativeTime(hit.created_at, now)}` }),
        snippet);
      open.addEventListener("click", () => this.open(hit));
      return h("li", {}, open);
    }));
  }

  private schedule(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.run(), DEBOUNCE_MS);
  }

  private run(): void {
    window.clearTimeout(this.timer);
    const query = this.input.value.trim();
    this.asked = query;
    if (!query) {
      this.status.textContent = "";
      this.results.replaceChildren();
      return;
    }
    this.status.textContent = "Searching…";
    this.act({ type: "search", query, all_scopes: this.everywhere.checked });
  }

  private onResultsKey(e: KeyboardEvent): void {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const buttons = Array.from(this.results.querySelectorAll<HTMLButtonElement>("button"));
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement);
    if (index < 0) return;
    e.preventDefault();
    e.stopPropagation();
    if (e.key === "ArrowUp" && index === 0) this.input.focus();
    else buttons[Math.max(0, Math.min(buttons.length - 1, index + (e.key === "ArrowDown" ? 1 : -1)))]?.focus();
  }

  dispose(): void {
    window.clearTimeout(this.timer);
  }
}
