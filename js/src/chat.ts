/** The chat widget (ai_sessions.ChatWidget): loaded once per page by chat_loader.ts, its anywidget entry. */

import "./styles/chat.css";
import type { RenderProps } from "./anywidget";
import { ChatView } from "./chat_view";
import { createMarkdown, type MarkdownRenderer } from "./markdown";
import type { ChatTraits } from "./protocol";
import { watchTabClose } from "./tab_watch";

let md: MarkdownRenderer | null = null;

function render({ model, el }: RenderProps<ChatTraits>): () => void {
  md ??= createMarkdown(window);
  const view = new ChatView(model, md);
  el.classList.add("ais-root");
  el.append(view.el, view.live);
  const stopWatching = watchTabClose(el, () => view.dispose());
  return () => {
    stopWatching();
    view.dispose();
    view.el.remove();
    view.live.remove();
  };
}

export default { render };
