#!/usr/bin/env bash
# A smoke test of the AWS Batch executor on your own account (docs/batch-executor.md, "A smoke
# test on your account"). Not run in CI: it spends a few cents of your money.
#
# With your AWS credentials (environment, profile or instance role), a job queue and a bucket,
# it runs a 2-point grid of 100 binaries each on Batch, waits, downloads and extracts the
# result, prints what the containers cost, and removes what it created: the S3 prefix it wrote
# and, with --image, the job definition revision it registered. Needs a built checkout
# (npm ci && npm run build) and a COMPAS binary identical to the image's for planning.
# Empty arrays are expanded as ${a[@]+"${a[@]}"} so that bash 3.2 (macOS) accepts them.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: scripts/aws-smoke.sh --queue NAME --bucket NAME (--job-definition NAME | --image URI [--job-role ARN])
                            [--region REGION] [--prefix PREFIX] [--compas-binary PATH]
                            [--container-compas-binary PATH] [--instance-type TYPE] [--n-systems N] [--keep]

  --queue                   Batch job queue to submit to
  --bucket                  S3 bucket for the ensemble (written under --prefix, then removed)
  --job-definition          an existing job definition (name, name:revision or ARN), or
  --image                   an image to register a definition named compas-ensemble-smoke for
  --job-role                the job role of that definition (S3 access for the containers)
  --region                  AWS region (default: AWS_REGION or your profile's)
  --prefix                  key prefix in the bucket (default: ensembles/smoke-<time>)
  --compas-binary           local COMPAS to plan with; must be the image's build (default: COMPAS_BINARY)
  --container-compas-binary COMPAS inside the image (default: /opt/compas/bin/COMPAS, as in examples/batch)
  --instance-type           instance type to price the run with (default: c7i.large; see src/estimate/prices.ts)
  --n-systems               binaries per grid point (default: 100)
  --keep                    keep the S3 prefix and the definition (prints where they are)
EOF
}

die() {
  echo "aws-smoke: $*" >&2
  exit 2
}

queue="" bucket="" definition="" image="" job_role="" region="" prefix="" compas="" container_compas="/opt/compas/bin/COMPAS"
instance_type="c7i.large" n_systems=100 keep=0 endpoint="" poll=15
while [ $# -gt 0 ]; do
  case "$1" in
    --queue) queue=${2:?}; shift 2 ;;
    --bucket) bucket=${2:?}; shift 2 ;;
    --job-definition) definition=${2:?}; shift 2 ;;
    --image) image=${2:?}; shift 2 ;;
    --job-role) job_role=${2:?}; shift 2 ;;
    --region) region=${2:?}; shift 2 ;;
    --prefix) prefix=${2:?}; shift 2 ;;
    --compas-binary) compas=${2:?}; shift 2 ;;
    --container-compas-binary) container_compas=${2:?}; shift 2 ;;
    --instance-type) instance_type=${2:?}; shift 2 ;;
    --n-systems) n_systems=${2:?}; shift 2 ;;
    --keep) keep=1; shift ;;
    # For testing the script itself against a local control plane; not for AWS.
    --batch-endpoint) endpoint=${2:?}; shift 2 ;;
    --poll-interval) poll=${2:?}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument $1" ;;
  esac
done
[ -n "$queue" ] || die "--queue is required: the Batch job queue to submit to."
[ -n "$bucket" ] || die "--bucket is required: the S3 bucket to write the ensemble to."
if [ -n "$definition" ] && [ -n "$image" ]; then die "give --job-definition or --image, not both."; fi
[ -n "$definition" ] || [ -n "$image" ] || die "give --job-definition NAME (registered from examples/batch/job-definition.json) or --image URI."

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -f "$repo/dist/cli.js" ] || die "$repo/dist/cli.js is missing: run 'npm ci && npm run build' in $repo first."
[ -x "$repo/node_modules/.bin/tsx" ] || die "$repo/node_modules/.bin/tsx is missing: run 'npm ci' in $repo first."
cli=(node "$repo/dist/cli.js")
helper=("$repo/node_modules/.bin/tsx" "$repo/scripts/aws-smoke.ts")
[ -z "$region" ] || export AWS_REGION="$region"
common=()
[ -z "$region" ] || common+=(--region "$region")
[ -z "$endpoint" ] || common+=(--batch-endpoint "$endpoint")

prefix=${prefix:-ensembles/smoke-$(date -u +%Y%m%dT%H%M%SZ)-$RANDOM}
uri="s3://$bucket/$prefix"
work=$(mktemp -d "${TMPDIR:-/tmp}/compas-ensemble-smoke.XXXXXX")
smoke_definition=compas-ensemble-smoke

batch=(--executor batch --job-queue "$queue" --poll-interval "$poll" --container-compas-binary "$container_compas" ${common[@]+"${common[@]}"})
if [ -n "$definition" ]; then
  batch+=(--job-definition "$definition")
else
  batch+=(--image "$image" --job-definition-name "$smoke_definition")
  [ -z "$job_role" ] || batch+=(--job-role "$job_role")
  # Revisions that exist now are not ours to remove at the end.
  "${helper[@]}" definitions "$smoke_definition" ${common[@]+"${common[@]}"} >"$work/definitions-before"
fi
planning=()
[ -z "$compas" ] || planning+=(--compas-binary "$compas")

finish() {
  local status=$?
  trap - EXIT INT TERM
  echo "== cost"
  "${helper[@]}" report "$uri" --instance-type "$instance_type" ${common[@]+"${common[@]}"} || status=1
  if [ "$keep" = 1 ]; then
    echo "== kept $uri${image:+ and the $smoke_definition definition}"
  else
    echo "== clean-up"
    local deregister=()
    [ -z "$image" ] || deregister=(--deregister-new "$smoke_definition" --before "$work/definitions-before")
    "${helper[@]}" cleanup "$uri" ${deregister[@]+"${deregister[@]}"} ${common[@]+"${common[@]}"} || status=1
  fi
  rm -rf "$work"
  if [ "$status" = 0 ]; then echo "aws-smoke: passed"; else echo "aws-smoke: FAILED (exit $status)" >&2; fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

cat >"$work/grid.json" <<'EOF'
{ "alpha_ce": [0.5, 2.0], "lambda_ce": 0.1, "kick_sigma": 265, "metallicity": 0.0142, "mass_transfer_fa": 0.5 }
EOF

echo "== run: 2 grid points x $n_systems binaries on $queue -> $uri"
"${cli[@]}" run --file "$work/grid.json" --n-systems "$n_systems" --output-dir "$uri" ${planning[@]+"${planning[@]}"} "${batch[@]}"
echo "== download"
"${cli[@]}" sync "$uri" "$work/ensemble"
echo "== extract"
"${cli[@]}" extract "$work/ensemble" --out "$work/sbi.h5"
