import { CompasEnsembleError } from "../../errors.js";
import { quoteArg, shellQuote } from "../../util/shell-quote.js";

/**
 * Version of the host control script; written into the script so a re-attaching
 * orchestrator can tell which layout a host directory uses.
 */
export const CTL_VERSION = 1;

/**
 * The host control script, uploaded as `ctl.sh` into each host's ensemble folder and always
 * run from there (`cd <folder> && sh ctl.sh <command> ...`). POSIX sh, no bash.
 *
 * Layout of the folder:
 * - `queue/<job>`: an empty file per job waiting for a runner.
 * - `jobs/<job>/`: `task` (task id), `claim` (the queue file, moved here by the runner that
 *   took the job: rename is atomic, so exactly one runner, or the orchestrator revoking the
 *   job, wins), `runner` (runner pid), `pid` (worker pid), `exit` (worker exit code),
 *   `log` (worker stdout/stderr), `revoked` (the orchestrator took the job back), `ack`
 *   (the orchestrator has dealt with the job's end), `store/` (local-store mode only).
 * - `runners/<pid>`: one file per runner loop; `slots/<n>/pid`: slot locks, at most
 *   `slots` runners at once however often runners are started.
 * - `scratch/`: the workers' scratch folders (`<task>.a<attempt>/compas.pid`).
 *
 * Commands: `runner <slots>` (claims queued jobs until none is left), `start <n> <slots>`
 * (starts n detached runners), `status`, `kill <job>...`, `ack <job>...`, `enqueue`
 * (`<job> <task>` lines on stdin), `prepare` (same input; local-store mode job stores).
 */
export const CTL_SCRIPT = `#!/bin/sh
# compas-ensemble SSH host control script, layout version ${CTL_VERSION}. Generated: do not edit.
set -u

# alive PID WORD: the process exists and WORD is one of its arguments (guards against pid reuse).
alive() {
  [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\\000' '\\n' < "/proc/$1/cmdline" 2>/dev/null | grep -qxF -e "$2"
}

take_slot() {
  n=1
  while [ "$n" -le "$1" ]; do
    if mkdir "slots/$n" 2>/dev/null; then
      echo "$$" > "slots/$n/pid"
      slot=$n
      return 0
    fi
    p=$(cat "slots/$n/pid" 2>/dev/null || true)
    if [ -n "$p" ] && ! alive "$p" runner; then
      # The owner died (killed, host rebooted): whoever renames the lock away retries it.
      if mv "slots/$n" "slots/.stale.$$.$n" 2>/dev/null; then
        rm -rf "slots/.stale.$$.$n"
        continue
      fi
    fi
    n=$((n + 1))
  done
  return 1
}

runner() {
  mkdir -p queue jobs runners slots scratch
  slot=
  take_slot "$1" || exit 0
  me=$$
  echo "$me" > "runners/$me"
  trap 'rm -f "runners/$me"; rm -rf "slots/$slot"' EXIT
  trap 'exit 143' TERM INT HUP
  while :; do
    job=
    for f in queue/*; do
      [ -e "$f" ] || break
      j=\${f#queue/}
      if mv "$f" "jobs/$j/claim" 2>/dev/null; then job=$j; break; fi
    done
    [ -n "$job" ] || break
    d="jobs/$job"
    echo "$me" > "$d/runner"
    task=$(cat "$d/task")
    sh ./worker.sh "$job" "$task" > "$d/log" 2>&1 < /dev/null &
    w=$!
    echo "$w" > "$d/pid.tmp" && mv "$d/pid.tmp" "$d/pid"
    # A revocation that came between the claim and the pid file: kill checks revoked first.
    [ -e "$d/revoked" ] && kill -TERM "$w" 2>/dev/null
    wait "$w"
    code=$?
    # A worker killed by a signal could not stop its COMPAS (own process group): stop it
    # before the exit code makes the job look ended, or a rerun of the task on this host
    # would share the scratch folder with it and fail.
    [ "$code" -gt 128 ] && orphans "$task"
    echo "$code" > "$d/exit.tmp" && mv "$d/exit.tmp" "$d/exit"
  done
}

start() {
  i=0
  while [ "$i" -lt "$1" ]; do
    if command -v setsid > /dev/null 2>&1; then
      setsid nohup sh ./ctl.sh runner "$2" < /dev/null > /dev/null 2>&1 &
    else
      nohup sh ./ctl.sh runner "$2" < /dev/null > /dev/null 2>&1 &
    fi
    i=$((i + 1))
  done
}

progress() {
  cat scratch/"$1".a*/task.log 2>/dev/null | grep -c '^[0-9][0-9]*: '
}

status() {
  for d in jobs/*; do
    [ -d "$d" ] || continue
    j=\${d#jobs/}
    [ -e "$d/ack" ] && continue
    t=$(cat "$d/task" 2>/dev/null) || continue
    r=-
    [ -e "$d/revoked" ] && r=r
    if [ -e "$d/exit" ]; then
      echo "E $j $t $r $(cat "$d/exit")"
    elif [ -e "queue/$j" ]; then
      echo "Q $j $t $r"
    elif [ -e "$d/pid" ]; then
      # A worker that is not (or no longer) running while its runner is alive is only between
      # fork and exec, or between its end and the runner writing exit: not dead. Reporting D
      # there made the orchestrator queue its task a second time.
      p=$(cat "$d/runner" 2>/dev/null || true)
      if alive "$(cat "$d/pid")" "$t"; then echo "R $j $t $r $(progress "$t")"
      elif [ -e "$d/exit" ]; then echo "E $j $t $r $(cat "$d/exit")"
      elif [ -n "$p" ] && alive "$p" runner; then echo "S $j $t $r"
      else echo "D $j $t $r"; fi
    elif [ -e "$d/claim" ]; then
      p=$(cat "$d/runner" 2>/dev/null || true)
      if [ -z "$p" ] || alive "$p" runner; then echo "S $j $t $r"; else echo "D $j $t $r"; fi
    elif [ "$r" = r ]; then
      echo "X $j $t $r"
    else
      echo "U $j $t $r"
    fi
  done
  n=0
  for f in runners/*; do
    [ -e "$f" ] || continue
    p=\${f#runners/}
    if alive "$p" runner; then n=$((n + 1)); else rm -f "$f"; fi
  done
  echo "N $n"
}

# COMPAS process groups a killed worker left behind: compas.pid holds "pid starttime", and
# only a process with that start time is the one recorded.
orphans() {
  for f in scratch/"$1".a*/compas.pid; do
    [ -e "$f" ] || continue
    read -r cp cst < "$f" || continue
    [ -r "/proc/$cp/stat" ] || continue
    st=$(sed 's/^.*) //' "/proc/$cp/stat" | cut -d' ' -f20)
    if [ "$st" = "$cst" ]; then
      kill -KILL -- "-$cp" 2>/dev/null || kill -KILL "$cp" 2>/dev/null
      # kill returns before the process is gone; whoever calls this relies on it being gone.
      i=0
      while [ "$i" -lt 100 ] && [ -r "/proc/$cp/stat" ] && [ "$(sed 's/^.*) //' "/proc/$cp/stat" | cut -d' ' -f1)" != "Z" ]; do sleep 0.05; i=$((i + 1)); done
    fi
  done
}

kill_jobs() {
  for j in "$@"; do
    d="jobs/$j"
    if [ ! -d "$d" ]; then echo "$j missing"; continue; fi
    if mv "queue/$j" "$d/revoked" 2>/dev/null; then echo "$j revoked"; continue; fi
    : > "$d/revoked"
    t=$(cat "$d/task")
    p=$(cat "$d/pid" 2>/dev/null || true)
    if [ -n "$p" ] && alive "$p" "$t"; then
      kill -TERM "$p" 2>/dev/null
      i=0
      while [ "$i" -lt 60 ] && alive "$p" "$t"; do sleep 0.1; i=$((i + 1)); done
      if alive "$p" "$t"; then kill -KILL "$p" 2>/dev/null; fi
      echo "$j killed"
    else
      echo "$j ended"
    fi
    orphans "$t"
  done
}

ack() {
  for j in "$@"; do
    [ -d "jobs/$j" ] || continue
    rm -rf "jobs/$j/store"
    : > "jobs/$j/ack"
  done
}

enqueue() {
  mkdir -p queue jobs
  while read -r j t; do
    [ -n "$j" ] || continue
    mkdir -p "jobs/$j" && printf '%s\\n' "$t" > "jobs/$j/task" && : > "queue/$j"
  done
}

prepare() {
  while read -r j t; do
    [ -n "$j" ] || continue
    mkdir -p "jobs/$j/store/fragments" || exit 1
    ln -f plan.json "jobs/$j/store/plan.json" 2>/dev/null || cp plan.json "jobs/$j/store/plan.json" || exit 1
  done
}

cmd=$1
shift
case "$cmd" in
  runner) runner "$@" ;;
  start) start "$@" ;;
  status) status ;;
  kill) kill_jobs "$@" ;;
  ack) ack "$@" ;;
  enqueue) enqueue ;;
  prepare) prepare ;;
  *) echo "ctl.sh: unknown command $cmd" >&2; exit 2 ;;
esac
`;

/** What the worker launcher of one host runs. */
export interface WorkerScriptOptions {
  /** Remote `compas-ensemble` command as argv, e.g. `["compas-ensemble"]`. */
  remoteCommand: readonly string[];
  /** `s3://...` for S3 stores; undefined for local stores (each job gets its own store copy). */
  storeUri?: string;
  /** COMPAS on that host; undefined to use the plan's path. */
  compasBinary?: string;
  taskTimeoutS?: number;
  /** Non-secret environment for the worker (checked by {@link checkRemoteEnv}). */
  env: Readonly<Record<string, string>>;
}

/**
 * The per-host worker launcher `worker.sh <job> <task>`: exports the configured environment
 * and execs `compas-ensemble worker`. Every fixed value is quoted with {@link quoteArg}; the
 * two positional values are validated ids, used only inside double-quoted expansions.
 * @param options - command, store and binary for that host
 */
export function workerScript(options: WorkerScriptOptions): string {
  const exports = Object.entries(options.env).map(([k, v]) => `export ${k}=${quoteArg(v)}`);
  const plan = options.storeUri === undefined ? `"$(pwd)/jobs/$1/store"` : quoteArg(options.storeUri);
  const tail = [
    ...(options.compasBinary !== undefined ? ["--compas-binary", options.compasBinary] : []),
    ...(options.taskTimeoutS !== undefined ? ["--task-timeout", String(options.taskTimeoutS)] : []),
  ];
  return [
    "#!/bin/sh",
    "# compas-ensemble worker launcher. Generated: do not edit.",
    '[ -e "jobs/$1/revoked" ] && exit 130',
    ...exports,
    `exec ${shellQuote([...options.remoteCommand, "worker"])} --plan ${plan} --task "$2" --scratch "$(pwd)/scratch"${tail.length ? ` ${shellQuote(tail)}` : ""}`,
    "",
  ].join("\n");
}

const SECRET_NAME = /(SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|ACCESS_KEY|_KEY$|^AWS_PROFILE$)/i;

/**
 * Refuses environment entries that look like secrets or credentials, since they would be
 * written into a script on the host and shown by `ps`. Credentials must come from the host
 * (instance role, its own ~/.aws or environment).
 * @param env - environment variables meant for the remote workers
 */
export function checkRemoteEnv(env: Readonly<Record<string, string>>): void {
  for (const [name, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Remote environment variable name ${JSON.stringify(name)} is not a valid shell name.`);
    }
    if (SECRET_NAME.test(name)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Remote environment variable ${name} looks like a secret, and secrets are never sent to SSH hosts.`, {
        hint: "Give the hosts their own credentials (an EC2 instance role, or ~/.aws on the host).",
      });
    }
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/\s]*@/i.test(value)) {
      throw new CompasEnsembleError("OPTIONS_INVALID", `Remote environment variable ${name} holds a URL with a user name or password; credentials are never sent to SSH hosts.`);
    }
  }
}

/** Ids that go into remote file names and commands: no slash, space, quote or glob. */
export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;

/**
 * Throws unless `id` is safe as a remote file name component.
 * @param id - task id, job id or ensemble id
 * @param what - what it is, for the message
 */
export function checkSafeId(id: string, what: string): void {
  if (!SAFE_ID.test(id) || id.length > 200) {
    throw new CompasEnsembleError("OPTIONS_INVALID", `${what} ${JSON.stringify(id)} cannot be used on SSH hosts: only letters, digits, '.', '_', '~' and '-' are allowed.`);
  }
}
