/** The chat widget (ai_sessions.ChatWidget): loaded once per page by chat_loader.ts, its anywidget entry. */

import "./styles/chat.css";
import type { RenderProps } from "./anywidget";
import { ChatView } from "./chat_view";
import { Connection } from "./connection";
import { h } from "./dom";
import { createMarkdown, type MarkdownRenderer } from "./markdown";
import type { ChatTraits, ViewMsg } from "./protocol";
import { canOpenTabs, watchTabClose, whenPlaced } from "./tab_watch";

let md: MarkdownRenderer | null = null;

export const NO_TABS_TEXT = "Tabs need JupyterLab: the chat is shown here instead.";

function render({ model, el }: RenderProps<ChatTraits>): () => void {
  md ??= createMarkdown(window);
  const markdown = md;
  el.classList.add("ais-root");
  const tabs = canOpenTabs();
  let view: ChatView | null = null;
  let pointer: HTMLElement | null = null;
  const connection = new Connection(el, model, () => view?.disconnected());
  const tell = (msg: ViewMsg): void => {
    if (!connection.connected) return;
    try {
      model.send(msg);
    } catch {
      // the comm is gone
    }
  };

  const mountChat = (notice: string): void => {
    view = new ChatView(model, markdown, connection, notice);
    el.append(view.el, view.live);
  };
  // A chat opened for a tab (open_tab): in the tab it is the chat; its view in the cell only points to
  // the tab, or, where no tab can open (Notebook 7, VS Code), is the chat, saying why.
  const forTab = model.get("placement") === "tab";
  if (forTab && !tabs) mountChat(NO_TABS_TEXT);
  else if (!forTab) mountChat("");
  const stopPlacing = whenPlaced(el, (tab) => {
    if (forTab && tabs && !view) {
      if (tab) {
        mountChat("");
      } else {
        pointer = h("div", { class: "ais-tab-pointer", attrs: { role: "status" },
          text: `“${model.get("session_name") || "chat"}” is open in a tab.` });
        el.appendChild(pointer);
      }
    }
    tell({ type: "where", tabs, in_tab: tab !== null });
  });
  const stopWatching = watchTabClose(el, () => view?.dispose());
  return () => {
    stopPlacing();
    stopWatching();
    connection.dispose();
    view?.dispose();
    view?.el.remove();
    view?.live.remove();
    pointer?.remove();
  };
}

export default { render };
