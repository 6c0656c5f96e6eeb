#!/bin/sh
# One-shot job of docker/compose.yaml (service `temporal-namespace`, image
# temporalio/admin-tools): wait until the Temporal server answers `temporal operator cluster
# health`, then create zhidu's namespace and its custom search attributes when missing.
#
# The temporalio/server image (unlike the old auto-setup image) creates no namespace. The worker
# also registers the search attributes at start-up (worker.register_search_attributes); doing it
# here first means the first case started through the web app never meets a namespace or an
# attribute the server has not loaded yet. Safe to run on every `docker compose up`.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NAMESPACE="${NAMESPACE:-default}"
RETENTION="${NAMESPACE_RETENTION:-30d}"
# The custom search attributes every zhidu case carries (worker.SEARCH_ATTRIBUTES), all Keyword.
ATTRIBUTES="Regulation CustomerId CaseStatus CaseLevel CaseDepartment CaseBreached"
ATTEMPTS=60

tries=0
until temporal operator cluster health --address "$ADDRESS"; do
    tries=$((tries + 1))
    if [ "$tries" -ge "$ATTEMPTS" ]; then
        echo "temporal-namespace: Temporal at $ADDRESS is not healthy after $ATTEMPTS tries" >&2
        exit 1
    fi
    echo "temporal-namespace: waiting for Temporal at $ADDRESS ($tries/$ATTEMPTS)"
    sleep 2
done

changed=0
if temporal operator namespace describe --address "$ADDRESS" --namespace "$NAMESPACE" \
    >/dev/null 2>&1; then
    echo "temporal-namespace: namespace $NAMESPACE exists"
else
    temporal operator namespace create --address "$ADDRESS" --namespace "$NAMESPACE" \
        --retention "$RETENTION" --description "zhidu regulations"
    echo "temporal-namespace: created namespace $NAMESPACE (retention $RETENTION)"
    changed=1
    # A new namespace reaches every server role through its namespace cache (refreshed about
    # every 10 s); until then the search attributes cannot be added to it.
    sleep 12
fi

existing="$(temporal operator search-attribute list --address "$ADDRESS" \
    --namespace "$NAMESPACE")"
for name in $ATTRIBUTES; do
    if printf '%s\n' "$existing" | grep -Eq "^[[:space:]]*${name}[[:space:]]"; then
        echo "temporal-namespace: search attribute $name exists"
        continue
    fi
    temporal operator search-attribute create --address "$ADDRESS" --namespace "$NAMESPACE" \
        --name "$name" --type Keyword
    echo "temporal-namespace: created search attribute $name (Keyword)"
    changed=1
done

if [ "$changed" -eq 1 ]; then
    # Let the server's caches pick up the new namespace and attributes before the worker and
    # the web app (which wait for this job) start cases with them.
    sleep 12
fi
echo "temporal-namespace: done"
