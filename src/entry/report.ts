/**
 * `compas-ensemble/report`: one self-contained HTML report of an ensemble or an SBI dataset.
 * Loads Observable Plot and linkedom, which nothing else needs.
 * @module report
 */
export { writeReport, type WriteReportOptions, type WriteReportResult } from "../report/write.js";
export {
  RUN_STATES,
  type RunState,
  type ReportData,
  type StatusData,
  type ScienceData,
  type ProvenanceData,
  type RatesData,
  type ReportDcoTable,
  type ReportRun,
  type ReportFailure,
  type ReportProblem,
} from "../report/types.js";
