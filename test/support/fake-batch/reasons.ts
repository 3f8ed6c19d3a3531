/**
 * The strings AWS Batch reports, in its wording (see README.md here for where each is seen).
 * Retry rules match these, so a rule written for the real service is tested against the real
 * text here too.
 */

/** Job status reason when the container ended by itself, with any exit code. */
export const ESSENTIAL_CONTAINER_EXITED = "Essential container in task exited";
/** Job status reason when the container could not be started (its reason says why). */
export const TASK_FAILED_TO_START = "Task failed to start";
/** Job status reason when Batch stopped an attempt that ran past attemptDurationSeconds. */
export const ATTEMPT_TIMEOUT = "Job attempt duration exceeded timeout";

/**
 * Job status reason when the instance under an attempt went away (a Spot reclaim, a failed host).
 * @param instanceId - the EC2 instance id, e.g. "i-0123456789abcdef0"
 */
export function hostTerminated(instanceId: string): string {
  return `Host EC2 (instance ${instanceId}) terminated.`;
}

/** Matches {@link hostTerminated}'s text, for assertions. */
export const HOST_TERMINATED = /^Host EC2 \(instance i-[0-9a-f]{17}\) terminated\.$/;

/**
 * Container reason when the image cannot be pulled (a missing tag, a denied registry).
 * @param image - the job definition's image
 */
export function cannotPullContainer(image: string): string {
  return `CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref ${image}: not found`;
}
