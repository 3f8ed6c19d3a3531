/**
 * `compas-ensemble/doctor`: what this machine lacks for a run, one check per line with a fix
 * (Node, COMPAS and its build, shared libraries, Python with h5py, disk, cores and memory).
 * The CLI's `compas-ensemble doctor` prints the same report.
 * @module doctor
 */
export {
  doctor,
  formatDoctor,
  DoctorReportSchema,
  DoctorCheckSchema,
  DoctorStatusSchema,
  type DoctorOptions,
  type DoctorReport,
  type DoctorCheck,
  type DoctorStatus,
} from "../doctor/index.js";
