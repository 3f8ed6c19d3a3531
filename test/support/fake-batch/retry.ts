/**
 * AWS Batch's retry rules as the API reference states them (RetryStrategy, EvaluateOnExit;
 * see README.md here): up to 5 rules, each with glob patterns on the job's status reason, the
 * container's reason and the exit code; a rule applies when all of its patterns match; the
 * first rule that applies decides RETRY or EXIT (case-insensitive); when none applies, the
 * job is retried.
 */

/** One rule of `retryStrategy.evaluateOnExit`. */
export interface EvaluateOnExit {
  onStatusReason?: string;
  onReason?: string;
  onExitCode?: string;
  action?: string;
}

/** `retryStrategy` of a job definition or a SubmitJob request. */
export interface RetryStrategy {
  attempts?: number;
  evaluateOnExit?: EvaluateOnExit[];
}

/** What an ended attempt reports, matched by the rules. Missing values match as "". */
export interface AttemptOutcome {
  /** The job's status reason, e.g. "Essential container in task exited". */
  statusReason?: string;
  /** The container's reason, e.g. "CannotPullContainerError: ...". */
  reason?: string;
  exitCode?: number;
}

const MAX_RULES = 5;
const MAX_PATTERN = 512;
// Reasons: letters, digits, periods, colons and white space, optionally ending in '*'.
const REASON_PATTERN = /^[A-Za-z0-9.:\s]*\*?$/;
// Exit codes: digits, optionally ending in '*'.
const EXIT_CODE_PATTERN = /^[0-9]*\*?$/;

/**
 * Why Batch would refuse this retry strategy (the ClientException message), or undefined.
 * @param rs - the retryStrategy of a request
 */
export function retryStrategyProblem(rs: RetryStrategy | undefined): string | undefined {
  if (rs === undefined) return undefined;
  const rules = rs.evaluateOnExit ?? [];
  if (rs.attempts === undefined && rules.length > 0) return "retryStrategy.attempts is required when evaluateOnExit is given.";
  if (rs.attempts !== undefined && (!Number.isInteger(rs.attempts) || rs.attempts < 1 || rs.attempts > 10)) {
    return "retryStrategy.attempts must be between 1 and 10.";
  }
  if (rules.length > MAX_RULES) return `retryStrategy.evaluateOnExit holds ${rules.length} conditions; at most ${MAX_RULES} are allowed.`;
  for (const [i, r] of rules.entries()) {
    const action = (r.action ?? "").toUpperCase();
    if (action !== "RETRY" && action !== "EXIT") return `evaluateOnExit[${i}].action must be RETRY or EXIT, not ${JSON.stringify(r.action)}.`;
    for (const [field, pattern, allowed] of [
      ["onStatusReason", r.onStatusReason, REASON_PATTERN],
      ["onReason", r.onReason, REASON_PATTERN],
      ["onExitCode", r.onExitCode, EXIT_CODE_PATTERN],
    ] as const) {
      if (pattern === undefined) continue;
      if (pattern.length === 0 || pattern.length > MAX_PATTERN) return `evaluateOnExit[${i}].${field} must hold 1 to ${MAX_PATTERN} characters.`;
      if (!allowed.test(pattern)) return `evaluateOnExit[${i}].${field} ${JSON.stringify(pattern)} holds characters Batch does not accept.`;
    }
  }
  return undefined;
}

/**
 * Batch's glob: a pattern ending in '*' matches any value that starts with what comes before
 * it ("*" alone matches everything, a missing value too); any other pattern must equal the
 * whole value.
 * @param pattern - onStatusReason, onReason or onExitCode
 * @param value - the attempt's value; undefined matches as ""
 */
export function globMatches(pattern: string, value: string | undefined): boolean {
  const v = value ?? "";
  return pattern.endsWith("*") ? v.startsWith(pattern.slice(0, -1)) : v === pattern;
}

/**
 * Whether a rule applies: every pattern it gives matches (a rule without any pattern applies
 * to everything).
 * @param rule - one evaluateOnExit entry
 * @param outcome - what the attempt reported
 */
export function ruleApplies(rule: EvaluateOnExit, outcome: AttemptOutcome): boolean {
  const exitCode = outcome.exitCode === undefined ? undefined : String(outcome.exitCode);
  return (
    (rule.onStatusReason === undefined || globMatches(rule.onStatusReason, outcome.statusReason)) &&
    (rule.onReason === undefined || globMatches(rule.onReason, outcome.reason)) &&
    (rule.onExitCode === undefined || globMatches(rule.onExitCode, exitCode))
  );
}

/**
 * RETRY or EXIT for a failed attempt: the first rule that applies, else RETRY.
 * @param rules - evaluateOnExit in order
 * @param outcome - what the attempt reported
 * @returns the action and the index of the rule that decided (-1: none applied)
 */
export function decideRetry(rules: readonly EvaluateOnExit[], outcome: AttemptOutcome): { action: "RETRY" | "EXIT"; rule: number } {
  const rule = rules.findIndex((r) => ruleApplies(r, outcome));
  if (rule < 0) return { action: "RETRY", rule };
  return { action: (rules[rule]!.action ?? "").toUpperCase() === "EXIT" ? "EXIT" : "RETRY", rule };
}
