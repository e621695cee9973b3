/**
 * What the chat accepts as attachments, checked in the browser before anything is sent (the kernel checks
 * the same limits again, see ai_sessions/attachments.py). Pure functions.
 */

import type { Accepts, AttachLimits } from "./protocol";

export type FileKind = "image" | "text" | "pdf" | "other";

export interface FileLike {
  name: string;
  type: string;
  size: number;
}

const IMAGE_TYPES = ["image/png", "image/jpeg", "image/gif", "image/webp"];
const TEXT_TYPES = ["application/json", "application/xml", "application/x-yaml", "application/csv"];
const TEXT_NAMES = /\.(txt|md|csv|tsv|json|jsonl|ya?ml|xml|html?|css|js|ts|py|r|sql|sh|toml|ini|cfg|log|ipynb|tex|rst)$/i;

export const DEFAULT_LIMITS: AttachLimits = { max_total_bytes: 8 * 1024 * 1024, max_image_bytes: 5 * 1024 * 1024, max_count: 10 };

/** What a file will be sent as. Files of unknown type are read as text by the kernel if they are UTF-8. */
export function kindOf(file: Pick<FileLike, "name" | "type">): FileKind {
  const type = file.type.toLowerCase();
  if (IMAGE_TYPES.includes(type)) return "image";
  if (type === "application/pdf" || /\.pdf$/i.test(file.name)) return "pdf";
  if (type.startsWith("text/") || TEXT_TYPES.includes(type) || TEXT_NAMES.test(file.name) || type === "") return "text";
  return "other";
}

/** `512 bytes`, `12 KB`, `3.4 MB` (as the kernel's messages say). */
export function formatSize(size: number): string {
  if (size < 1024) return `${size} bytes`;
  if (size < 1024 * 1024) return `${Math.round(size / 1024)} KB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}

/** Why `file` cannot go to `model` (null if it can). */
export function refusal(file: FileLike, accepts: Accepts, model: string, limits: AttachLimits = DEFAULT_LIMITS): string | null {
  const kind = kindOf(file);
  if (kind === "image" && !accepts.images) return `${model} cannot see images: remove ${file.name} or switch to a model that takes images`;
  if (kind === "image" && file.size > limits.max_image_bytes) return `${file.name} is ${formatSize(file.size)}, over the ${formatSize(limits.max_image_bytes)} limit for images`;
  if (kind === "pdf" && !accepts.documents) return `${model} cannot read PDF files: remove ${file.name} or switch to a model that reads documents`;
  if (kind === "other") return `no model can read ${file.name}: only images, text files and PDFs can be attached`;
  return null;
}

/** Why the set of `files` cannot be sent at all (too many, too large together), or null. */
export function setRefusal(files: readonly FileLike[], limits: AttachLimits = DEFAULT_LIMITS): string | null {
  if (files.length > limits.max_count) return `${files.length} files are attached: at most ${limits.max_count} go with one message`;
  const total = files.reduce((n, f) => n + f.size, 0);
  if (total > limits.max_total_bytes) return `the attachments add up to ${formatSize(total)}, over the ${formatSize(limits.max_total_bytes)} a message can carry`;
  return null;
}
