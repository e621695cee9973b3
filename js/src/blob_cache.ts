/**
 * Image bytes for thumbnails (tool results, attachments), asked of the kernel once per image and page
 * view: the `messages` trait carries only each image's hash and size, so a saved notebook stays small.
 */

import type { BlobSource } from "./parts_view";
import { THUMBNAIL_TYPES } from "./parts";
import type { BlobMsg } from "./protocol";

export class BlobCache implements BlobSource {
  private readonly urls = new Map<string, Promise<string | null>>();
  private readonly waiting = new Map<string, (url: string | null) => void>();

  /** `ask(blob)` sends the request; false when it cannot be sent (no kernel). */
  constructor(private readonly ask: (blob: string) => boolean) {}

  image(blob: string): Promise<string | null> {
    let url = this.urls.get(blob);
    if (!url) {
      url = new Promise<string | null>((resolve) => {
        this.waiting.set(blob, resolve);
        if (!this.ask(blob)) {
          this.waiting.delete(blob);
          this.urls.delete(blob); // ask again once the kernel is back
          resolve(null);
        }
      });
      if (this.waiting.has(blob)) this.urls.set(blob, url);
    }
    return url;
  }

  /** The kernel's answer: a data URL for the images we show (never SVG), else null. */
  answer(msg: BlobMsg): void {
    const resolve = this.waiting.get(msg.blob);
    if (!resolve) return;
    this.waiting.delete(msg.blob);
    const ok = msg.data !== null && !msg.error && THUMBNAIL_TYPES.has(msg.media_type) && /^[A-Za-z0-9+/=]*$/.test(msg.data);
    resolve(ok ? `data:${msg.media_type};base64,${msg.data}` : null);
  }
}
