/** The chat widget (ai_sessions.ChatWidget): loaded once per page by chat_loader.ts, its anywidget entry. */

import "./styles/chat.css";
import type { RenderProps } from "./anywidget";
import { ChatView } from "./chat_view";
import { Connection } from "./connection";
import { createMarkdown, type MarkdownRenderer } from "./markdown";
import type { ChatTraits } from "./protocol";
import { watchTabClose } from "./tab_watch";

let md: MarkdownRenderer | null = null;

function render({ model, el }: RenderProps<ChatTraits>): () => void {
  md ??= createMarkdown(window);
  let view: ChatView | null = null;
  const connection = new Connection(el, model, () => view?.disconnected());
  view = new ChatView(model, md, connection);
  const shown = view;
  el.classList.add("ais-root");
  el.appendChild(shown.el);
  const stopWatching = watchTabClose(el, () => shown.dispose());
  return () => {
    stopWatching();
    connection.dispose();
    shown.dispose();
    shown.el.remove();
  };
}

export default { render };
