/**
 * Adding a cell to the notebook below the chat, in the browser (the `insert_cell` tool and the code
 * blocks' "Insert below"): never by writing the .ipynb on disk.
 *
 * anywidget hands each view its model's widget manager. In JupyterLab and Notebook 7 that is
 * @jupyter-widgets/jupyterlab-manager's `WidgetManager`, whose `context` is the notebook's document
 * context: `context.model.sharedModel` is the notebook's shared model (@jupyter/ydoc's `YNotebook`),
 * which the notebook view follows, and whose cells hold their outputs. The chat's cell is the one whose
 * outputs show this widget (a widget-view output naming its model id, the `widget_id` trait). A chat
 * outside any cell's output (a tab, the hub panel) adds the cell at the end. Elsewhere (VS Code, a page
 * without a notebook) there is no context, and the chat says so.
 */

const WIDGET_VIEW = "application/vnd.jupyter.widget-view+json";

/** A cell of the shared notebook model, as far as we read it. */
export interface SharedCellLike {
  readonly id?: string;
  readonly cell_type?: string;
  getOutputs?(): unknown[];
}

/** @jupyter/ydoc's YNotebook, as far as we use it. */
export interface SharedNotebookLike {
  readonly cells: readonly SharedCellLike[];
  insertCell(index: number, cell: { cell_type: "code" | "markdown"; source: string; metadata?: object }): SharedCellLike;
}

/** The widget manager, where it carries a notebook's document context. */
interface ManagerWithContext {
  readonly context?: { readonly model?: { readonly sharedModel?: SharedNotebookLike; readonly readOnly?: boolean } | null } | null;
}

export const NO_NOTEBOOK = "this page shows no notebook to add a cell to (JupyterLab and Notebook 7 do)";

/** The index of the cell whose outputs show the widget `widgetId`, or -1. */
export function chatCellIndex(cells: readonly SharedCellLike[], widgetId: string): number {
  if (!widgetId) return -1;
  return cells.findIndex((cell) => {
    if (cell.cell_type !== "code" || typeof cell.getOutputs !== "function") return false;
    return cell.getOutputs().some((output) => {
      const data = (output as { data?: Record<string, unknown> } | null)?.data;
      const view = data?.[WIDGET_VIEW] as { model_id?: unknown } | undefined;
      return view?.model_id === widgetId;
    });
  });
}

/** The shared notebook reachable from `manager`, or null (VS Code, no notebook). */
export function sharedNotebook(manager: unknown): SharedNotebookLike | null {
  try {
    const model = (manager as ManagerWithContext | undefined)?.context?.model;
    const shared = model?.sharedModel;
    if (!shared || model?.readOnly || typeof shared.insertCell !== "function" || !Array.isArray(shared.cells)) return null;
    return shared;
  } catch {
    return null;
  }
}

/** Ids of the cells each chat added, so the next one goes after them (in the order they were asked for). */
const added = new Map<string, Set<string>>();
/** Requests a view of this page already took: one page adds a requested cell once, however many views it has. */
const claimed = new Set<string>();

/** Whether this view is the first of the page to take request `requestId`. */
export function claim(requestId: string): boolean {
  if (claimed.has(requestId)) return false;
  claimed.add(requestId);
  return true;
}

export type InsertResult = { ok: true; where: string } | { ok: false; error: string };

/**
 * Add a cell with `source` below the chat `widgetId` (after the cells it added there before), or at the
 * end of the notebook when no cell shows the chat.
 */
export function insertBelowChat(manager: unknown, widgetId: string, source: string, cellType: "code" | "markdown"): InsertResult {
  const notebook = sharedNotebook(manager);
  if (!notebook) return { ok: false, error: NO_NOTEBOOK };
  const cells = notebook.cells;
  const chat = chatCellIndex(cells, widgetId);
  let index = cells.length;
  let where = "at the end of the notebook (no cell shows this chat)";
  if (chat >= 0) {
    const ours = added.get(widgetId) ?? new Set<string>();
    index = chat + 1;
    while (index < cells.length && ours.has(cells[index].id ?? "")) index++;
    where = `below the chat (cell ${index + 1})`;
  }
  try {
    const cell = notebook.insertCell(index, { cell_type: cellType, source, metadata: {} });
    if (cell?.id) added.set(widgetId, (added.get(widgetId) ?? new Set<string>()).add(cell.id));
  } catch (error) {
    return { ok: false, error: `the notebook refused the cell: ${String(error)}` };
  }
  return { ok: true, where };
}
