/**
 * anywidget entry point (`_esm`) of ai_sessions.ChatWidget: a small loader for the chat's code.
 *
 * A widget's `_esm` and `_css` are synced traits, so they are saved with every widget in a notebook.
 * The chat's code (chat-impl.js), its styles (chat.css) and KaTeX's fonts are files instead, in
 * ai_sessions/static, which ai_sessions' Jupyter server extension serves at `{baseUrl}ai-sessions/static/`.
 * They are loaded once per page (the browser keeps one module per URL), from:
 * 1. the Jupyter server, when it serves this very build (`buildId`), or any build for a view with no
 *    kernel side (a saved notebook reopened: it only shows the conversation);
 * 2. else the kernel, over the widget's comm (VS Code, a server without ai_sessions or with another
 *    version of it);
 * 3. else nothing: the conversation is shown as plain text (e.g. an HTML export with the widget renderer).
 */

import type { RenderProps } from "./anywidget";
import { id } from "ai-sessions:build";
import { DISCONNECTED_CLASS } from "./connection";
import { chooseSource, STATIC_PATH } from "./loader_plan";
import type { BundleMsg, ChatTraits, MessageData } from "./protocol";

interface ChatModule {
  default: { render(props: RenderProps<ChatTraits>): () => void };
  buildId?: string;
}

const PAGE_KEY = `__aiSessionsChat_${id}`;

/** The Jupyter server's base URL for this page (JupyterLab and Notebook 7 publish it), or null. */
function serverBase(): string | null {
  const data = document.getElementById("jupyter-config-data")?.textContent;
  if (!data) return null;
  try {
    const base = (JSON.parse(data) as { baseUrl?: unknown }).baseUrl;
    return typeof base === "string" ? new URL(base, document.baseURI).href.replace(/\/?$/, "/") : null;
  } catch {
    return null;
  }
}

function addStyle(make: () => HTMLLinkElement | HTMLStyleElement): Promise<void> {
  const key = `ais-chat-style-${id}`;
  if (document.getElementById(key)) return Promise.resolve();
  const el = make();
  el.id = key;
  return new Promise((resolve) => {
    if (el instanceof HTMLLinkElement) {
      el.addEventListener("load", () => resolve());
      el.addEventListener("error", () => resolve());
    } else {
      resolve();
    }
    document.head.appendChild(el);
  });
}

async function fromServer(base: string): Promise<ChatModule | null> {
  try {
    return (await import(/* @vite-ignore */ `${base}${STATIC_PATH}chat-impl.js?v=${id}`)) as ChatModule;
  } catch {
    return null;
  }
}

function fromKernel(model: RenderProps<ChatTraits>["model"]): Promise<ChatModule> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: BundleMsg): void => {
      if (msg?.type !== "bundle") return;
      model.off("msg:custom", onMessage as (...args: never[]) => void);
      void addStyle(() => Object.assign(document.createElement("style"), { textContent: msg.css }));
      const url = URL.createObjectURL(new Blob([msg.js], { type: "text/javascript" }));
      import(/* @vite-ignore */ url).then((m) => resolve(m as ChatModule), reject)
        .finally(() => URL.revokeObjectURL(url));
    };
    model.on("msg:custom", onMessage as (...args: never[]) => void);
    model.send({ type: "bundle" });
  });
}

async function load(model: RenderProps<ChatTraits>["model"], live: boolean): Promise<ChatModule | null> {
  const base = serverBase();
  const server = base ? await fromServer(base) : null;
  const source = chooseSource({ server: server ? { buildId: server.buildId ?? null } : null, expected: id, live });
  if (source === "server" && server && base) {
    await addStyle(() => Object.assign(document.createElement("link"), {
      rel: "stylesheet", href: `${base}${STATIC_PATH}chat.css?v=${id}`,
    }));
    return server;
  }
  return source === "kernel" ? fromKernel(model) : null;
}

/** The chat's module, loaded once per page (a failed or empty load is tried again by the next view). */
function chatModule(model: RenderProps<ChatTraits>["model"], live: boolean): Promise<ChatModule | null> {
  const g = globalThis as unknown as Record<string, Promise<ChatModule | null> | undefined>;
  const cached = g[PAGE_KEY];
  if (cached) return cached;
  const promise = load(model, live);
  g[PAGE_KEY] = promise;
  void promise.then((m) => {
    if (!m && g[PAGE_KEY] === promise) delete g[PAGE_KEY];
  }, () => {
    if (g[PAGE_KEY] === promise) delete g[PAGE_KEY];
  });
  return promise;
}

/** The conversation as plain text: what a view shows when the chat's code cannot be loaded. */
function renderPlain(model: RenderProps<ChatTraits>["model"], el: HTMLElement): () => void {
  const box = document.createElement("section");
  box.setAttribute("aria-label", `AI chat: ${model.get("session_name") || "chat"} (read-only)`);
  box.style.whiteSpace = "pre-wrap";
  const line = (m: MessageData): HTMLElement => {
    const p = document.createElement("p");
    const who = document.createElement("strong");
    who.textContent = m.role === "user" ? "You: " : `${m.model ?? "Assistant"}: `;
    p.append(who, m.content);
    return p;
  };
  box.append(...(model.get("messages") ?? []).map(line));
  el.appendChild(box);
  return () => box.remove();
}

async function render(props: RenderProps<ChatTraits>): Promise<() => void> {
  const mod = await chatModule(props.model, !props.el.classList.contains(DISCONNECTED_CLASS));
  return mod ? mod.default.render(props) : renderPlain(props.model, props.el);
}

export default { render };
