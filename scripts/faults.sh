#!/usr/bin/env bash
# The fault-injection suite in its long form: every fault twice, the object
# store unreachable for three minutes, the data disk full for one, and at
# least 80 ad-hoc captures beside the scheduled ones and the bad pages. It
# prints the table of faults, captures and recovery times; with
# BEVARA_FAULTS_TABLE=FILE it also writes the table there. Run as root (the
# full disk is a tmpfs it mounts) on a machine set up for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" != "--no-setup" ]; then
    bash containers/setup-debian.sh --tests
fi
BEVARA_FAULTS=full cargo test --locked --test faults -- --nocapture
