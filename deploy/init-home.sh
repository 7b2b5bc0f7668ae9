#!/bin/sh
# Prepare the shared home volume before the replicas start (the compose file's
# `init` service and the Kubernetes initContainer run this; it is idempotent).
#
# The first `hermes` command lays out an empty home (config.yaml, .env, SOUL.md,
# memories/, skills/, workspace/): doing it once here, before the replicas, keeps
# three replicas from laying out one empty volume at the same time.
#
# In a container the HTTP server must listen on every interface, or no webhook,
# API call or health probe from outside the container reaches it: a home still on
# the loopback default gets server.host 0.0.0.0. Any other address set on purpose
# (`hermes config set server.host 10.0.0.5`) is left as it is.
set -eu
host=$(hermes config get server.host)
case "$host" in
  127.0.0.1 | localhost | ::1)
    hermes config set server.host 0.0.0.0
    ;;
  *)
    echo "server.host = $host (kept)"
    ;;
esac
