#!/usr/bin/env bash
# The real-VM tests (tests/e2e) need libvirtd and virtlogd running: same set-up as ./stack.sh.
exec "$(dirname "$0")/../stack.d/libvirt.sh"
