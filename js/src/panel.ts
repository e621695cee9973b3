/** anywidget entry point of ai_sessions.HubPanel. */

import "./styles/panel.css";
import type { RenderProps } from "./anywidget";
import { Connection } from "./connection";
import { PanelView } from "./panel_view";
import type { PanelTraits } from "./protocol";

function render({ model, el }: RenderProps<PanelTraits>): () => void {
  let view: PanelView | null = null;
  const connection = new Connection(el, model, () => view?.disconnected());
  view = new PanelView(model, connection);
  const shown = view;
  el.classList.add("ais-root");
  el.appendChild(shown.el);
  return () => {
    connection.dispose();
    shown.dispose();
    shown.el.remove();
  };
}

export default { render };
