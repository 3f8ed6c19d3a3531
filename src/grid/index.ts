export { linspace, logspace, logspaceBetween, values } from "./axes.js";
export { sparseGrid, fullGrid, type GridSpec, type PresetOptions } from "./presets.js";
export { expandGrid, sliceGrid, selectGrid, expandSelection, runId, TEST_RUN_POINTS, MAX_GRID_POINTS, type GridSelection } from "./expand.js";
export { validateGridSpec } from "./validate.js";
export { loadGridFile, gridSpecFromObject, GridFileSchema, AxisInputSchema, type GridFile, type AxisInput } from "./file.js";
export { AXES, ParamsSchema, GridPointSchema, type AxisName, type Params, type GridPoint } from "./schema.js";
