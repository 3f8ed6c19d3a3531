import type * as PlotModule from "@observablehq/plot";
import { importEsm } from "../../util/import-esm.js";

/**
 * The server-side document Plot renders into. The project compiles without the DOM library
 * (it is a Node package), so the document stays opaque here; Plot's own types take it as is.
 */
export type PlotDocument = Parameters<typeof PlotModule.plot>[0] extends infer O ? (O extends { document?: infer D } ? D : never) : never;

/** Observable Plot and a server-side document to render it into. */
export interface PlotLib {
  Plot: typeof PlotModule;
  /** A linkedom document: Plot builds its SVG in it, and `outerHTML` serialises it. */
  document: PlotDocument;
}

// Plot and linkedom are ESM-only and, with d3, take a few hundred milliseconds to load, which
// only a report needs: they are imported on first use, never at CLI start-up.

let loading: Promise<PlotLib> | undefined;

/** Loads Observable Plot and linkedom once per process and returns a fresh document to draw in. */
export async function loadPlotLib(): Promise<PlotLib> {
  loading ??= (async () => {
    const [Plot, linkedom] = await Promise.all([
      importEsm<typeof PlotModule>("@observablehq/plot", () => import("@observablehq/plot")),
      importEsm<typeof import("linkedom")>("linkedom", () => import("linkedom")),
    ]);
    const { document } = linkedom.parseHTML("<!doctype html><html><head></head><body></body></html>");
    return { Plot, document: document as unknown as PlotDocument };
  })();
  return loading;
}
