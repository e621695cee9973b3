/**
 * Files added to the message being written: by the Attach button, by pasting (an image from the
 * clipboard, copied files) or by dropping them on the chat. Each shows as a chip with its name, size and a
 * remove button. What the answering model cannot take (an image for a text-only model, a PDF for one that
 * reads no documents, a file no model reads) and what is over the size limits is said at once, and the
 * message is not sent until it is removed. The bytes travel as the send message's binary buffers.
 */

import { DEFAULT_LIMITS, formatSize, kindOf, refusal, setRefusal } from "./attachment_rules";
import { button, h, uniqueId } from "./dom";
import type { Accepts, AttachLimits, AttachmentMeta } from "./protocol";

interface Item {
  id: string;
  file: File;
}

export interface Payload {
  meta: AttachmentMeta[];
  buffers: ArrayBuffer[];
}

export class Attachments {
  readonly button: HTMLButtonElement;
  /** The chips (above the message box). */
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly list: HTMLElement;
  private readonly problem: HTMLElement;
  private items: Item[] = [];
  private accepts: Accepts = { images: false, documents: false };
  private limits: AttachLimits = DEFAULT_LIMITS;
  private model = "this model";

  constructor(private readonly onChange: () => void) {
    this.input = h("input", { attrs: { type: "file", multiple: "", hidden: "", tabindex: "-1", "aria-hidden": "true" } });
    this.input.addEventListener("change", () => {
      this.add(Array.from(this.input.files ?? []));
      this.input.value = "";
    });
    this.button = button("Attach", "Attach", () => this.input.click(), "ais-quiet ais-attach");
    this.button.title = "Attach images, text files or PDFs (or paste them, or drop them on the chat)";
    this.list = h("ul", { class: "ais-attach-chips", attrs: { "aria-label": "Attachments" } });
    this.problem = h("div", { class: "ais-attach-problem", attrs: { role: "alert" } });
    this.el = h("div", { class: "ais-attachments" }, this.list, this.problem, this.input);
    this.render();
  }

  /** What the answering model takes, and the limits (from the `session_settings` trait). */
  configure(accepts: Accepts, limits: AttachLimits, model: string): void {
    this.accepts = accepts;
    this.limits = limits;
    this.model = model;
    this.render();
  }

  get count(): number {
    return this.items.length;
  }

  add(files: readonly File[]): void {
    if (!files.length) return;
    this.items.push(...files.map((file) => ({ id: uniqueId("file"), file: named(file) })));
    this.render();
    this.onChange();
  }

  /** Files from a paste: taken (and the paste stopped) when it carries files and no text. */
  onPaste(e: ClipboardEvent): void {
    const files = Array.from(e.clipboardData?.files ?? []);
    if (!files.length) return;
    if (!(e.clipboardData?.getData("text/plain") ?? "")) e.preventDefault();
    this.add(files);
  }

  /** Why the message cannot be sent with these files now, or null. */
  refusal(): string | null {
    for (const item of this.items) {
      const why = refusal(item.file, this.accepts, this.model, this.limits);
      if (why) return why;
    }
    return setRefusal(this.items.map((i) => i.file), this.limits);
  }

  /** The files as sent: their names, types and sizes, and their bytes. */
  async payload(): Promise<Payload> {
    const files = this.items.map((i) => i.file); // as they are now: the composer may be cleared meanwhile
    const meta = files.map((f) => ({ name: f.name, media_type: f.type, size: f.size }));
    return { meta, buffers: await Promise.all(files.map(bytesOf)) };
  }

  /** Take the files out (sent); `restore` puts back files whose message was refused. */
  take(): File[] {
    const files = this.items.map((i) => i.file);
    this.items = [];
    this.render();
    return files;
  }

  restore(files: readonly File[]): void {
    if (!this.items.length) this.add(files);
  }

  set disabled(value: boolean) {
    this.button.disabled = value;
  }

  private remove(id: string): void {
    const index = this.items.findIndex((i) => i.id === id);
    this.items = this.items.filter((i) => i.id !== id);
    this.render();
    this.onChange();
    const buttons = this.list.querySelectorAll<HTMLButtonElement>("button");
    (buttons[Math.min(index, buttons.length - 1)] ?? this.button).focus();
  }

  private render(): void {
    this.el.hidden = this.items.length === 0;
    this.list.replaceChildren(...this.items.map((item) => {
      const { file } = item;
      const why = refusal(file, this.accepts, this.model, this.limits);
      const chip = h("li", { class: "ais-attach-chip", attrs: { "data-kind": kindOf(file) } },
        h("span", { class: "ais-attach-chip-name", text: file.name, title: file.type || "unknown type" }),
        h("span", { class: "ais-attach-chip-size", text: formatSize(file.size) }),
        button("×", `Remove ${file.name}`, () => this.remove(item.id), "ais-quiet ais-attach-chip-remove"));
      if (why) {
        chip.classList.add("ais-attach-chip-refused");
        chip.title = why;
      }
      return chip;
    }));
    const why = this.refusal();
    this.problem.textContent = why ?? "";
    this.problem.hidden = !why;
  }
}

/** A file's bytes (FileReader where Blob.arrayBuffer is missing, as in older DOMs). */
function bytesOf(file: File): Promise<ArrayBuffer> {
  if (typeof file.arrayBuffer === "function") return file.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(file);
  });
}

/** A pasted image comes as "image.png" at best: give nameless files a name the kernel can keep. */
function named(file: File): File {
  if (file.name) return file;
  const ext = file.type.split("/")[1]?.split("+")[0] ?? "bin";
  return new File([file], `pasted.${ext}`, { type: file.type });
}
