#!/bin/sh
# `image-automation reconcile --once` for CI jobs: the GitHub Action (action.yml) and the
# GitLab CI template (deploy/ci/gitlab-ci.yml) both run this, configured by environment
# variables (deploy/README.md, "From CI"). Credentials given as variables are written to a
# private temporary secrets dir (0700, files 0600) in the daemon's layout, passed with
# --secrets-dir, and removed when the run ends; they never reach the command line.
set -eu

die() {
    echo "reconcile-once: $*" >&2
    exit 2
}

repo=${IMAGE_AUTOMATION_REPO:-}
[ -n "$repo" ] || die "IMAGE_AUTOMATION_REPO is not set (the repository to update)"
branch=${IMAGE_AUTOMATION_BRANCH:-main}
case ${IMAGE_AUTOMATION_DRY_RUN:-false} in
    true) dry_run=--dry-run ;;
    false | "") dry_run= ;;
    *) die "IMAGE_AUTOMATION_DRY_RUN must be true or false, not '${IMAGE_AUTOMATION_DRY_RUN}'" ;;
esac

umask 077
tmp=$(mktemp -d "${TMPDIR:-/tmp}/image-automation.XXXXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
secrets="$tmp/secrets"
mkdir "$secrets"

if [ -n "${IMAGE_AUTOMATION_SECRETS_DIR:-}" ]; then
    [ -d "$IMAGE_AUTOMATION_SECRETS_DIR" ] ||
        die "IMAGE_AUTOMATION_SECRETS_DIR: no directory '$IMAGE_AUTOMATION_SECRETS_DIR'"
    cp -R "$IMAGE_AUTOMATION_SECRETS_DIR/." "$secrets/"
fi

# put NAME KEY VARIABLE: the variable's value (if set) as the file NAME/KEY
put() {
    eval "value=\${$3:-}"
    [ -n "$value" ] || return 0
    mkdir -p "$secrets/$1"
    printf '%s\n' "$value" >"$secrets/$1/$2"
}

git_secret=${IMAGE_AUTOMATION_GIT_SECRET:-}
if [ -n "${IMAGE_AUTOMATION_GIT_USERNAME:-}${IMAGE_AUTOMATION_GIT_PASSWORD:-}${IMAGE_AUTOMATION_GIT_TOKEN:-}${IMAGE_AUTOMATION_GIT_IDENTITY:-}" ]; then
    [ -z "$git_secret" ] || die "give IMAGE_AUTOMATION_GIT_SECRET or git credentials, not both"
    [ ! -e "$secrets/git" ] || die "IMAGE_AUTOMATION_SECRETS_DIR has a 'git' secret already"
    git_secret=git
    if [ -n "${IMAGE_AUTOMATION_GIT_PASSWORD:-}" ] && [ -z "${IMAGE_AUTOMATION_GIT_USERNAME:-}" ]; then
        die "IMAGE_AUTOMATION_GIT_PASSWORD needs IMAGE_AUTOMATION_GIT_USERNAME"
    fi
    put git username IMAGE_AUTOMATION_GIT_USERNAME
    put git password IMAGE_AUTOMATION_GIT_PASSWORD
    put git bearerToken IMAGE_AUTOMATION_GIT_TOKEN
    put git identity IMAGE_AUTOMATION_GIT_IDENTITY
    put git known_hosts IMAGE_AUTOMATION_GIT_KNOWN_HOSTS
fi

set -- reconcile --once --repo "$repo" --branch "$branch" \
    --work-dir "${IMAGE_AUTOMATION_WORK_DIR:-$tmp/work}" \
    --state "${IMAGE_AUTOMATION_STATE:-$tmp/state.db}" --secrets-dir "$secrets"
[ -z "$git_secret" ] || set -- "$@" --git-secret "$git_secret"
[ -z "$dry_run" ] || set -- "$@" "$dry_run"
if [ -n "${IMAGE_AUTOMATION_DOCKER_CONFIG_JSON:-}" ]; then
    printf '%s\n' "$IMAGE_AUTOMATION_DOCKER_CONFIG_JSON" >"$tmp/docker-config.json"
    set -- "$@" --docker-config "$tmp/docker-config.json"
fi
[ -z "${IMAGE_AUTOMATION_CONFIG:-}" ] || set -- "$@" --config "$IMAGE_AUTOMATION_CONFIG"
[ -z "${IMAGE_AUTOMATION_REGISTRIES:-}" ] || set -- "$@" --registries "$IMAGE_AUTOMATION_REGISTRIES"

# Not exec: the trap must remove the secrets after the run.
status=0
image-automation "$@" || status=$?
exit "$status"
