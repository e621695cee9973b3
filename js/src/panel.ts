/** anywidget entry point of ai_sessions.HubPanel. */

import "./styles/panel.css";
import type { RenderProps } from "./anywidget";
import { PanelView } from "./panel_view";
import type { PanelTraits } from "./protocol";

function render({ model, el }: RenderProps<PanelTraits>): () => void {
  const view = new PanelView(model);
  el.classList.add("ais-root");
  el.appendChild(view.el);
  return () => {
    view.dispose();
    view.el.remove();
  };
}

export default { render };
