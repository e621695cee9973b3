/** anywidget entry point of ai_sessions.InspectorWidget. */

import "./styles/inspector.css";
import type { RenderProps } from "./anywidget";
import type { InspectorTraits } from "./inspector_model";
import { InspectorView } from "./inspector_view";

function render({ model, el }: RenderProps<InspectorTraits>): () => void {
  const view = new InspectorView(model);
  el.classList.add("ais-root");
  el.appendChild(view.el);
  return () => {
    view.dispose();
    view.el.remove();
  };
}

export default { render };
