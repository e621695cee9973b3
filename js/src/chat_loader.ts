/**
 * anywidget entry point of ai_sessions.ChatWidget: a small loader for the chat's code (chat.ts).
 *
 * anywidget imports a widget's ES module once per widget, each time from a new blob URL, and the page
 * never frees a module: every chat shown would add its own copy of marked, DOMPurify, highlight.js and
 * KaTeX (~4 MiB of heap, which every full garbage collection then walks). This loader carries the chat's
 * bundle as text (build.mjs puts it in) and imports it once per page, shared through `globalThis` under
 * the hash of that text, so different builds never mix.
 */

import type { RenderProps } from "./anywidget";
import { id, source } from "ai-sessions:chat-impl";
import type { ChatTraits } from "./protocol";

interface ChatModule {
  default: { render(props: RenderProps<ChatTraits>): () => void };
}

function chatModule(): Promise<ChatModule> {
  const g = globalThis as unknown as Record<string, Promise<ChatModule> | undefined>;
  const key = `__aiSessionsChat_${id}`;
  if (!g[key]) {
    const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
    g[key] = import(/* @vite-ignore */ url).finally(() => URL.revokeObjectURL(url));
  }
  return g[key];
}

async function render(props: RenderProps<ChatTraits>): Promise<() => void> {
  return (await chatModule()).default.render(props);
}

export default { render };
