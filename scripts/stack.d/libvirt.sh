#!/usr/bin/env bash
# Make libvirtd usable without systemd: the libvirt-qemu user and the kvm / libvirt-qemu
# groups exist, and virtlogd then libvirtd run as daemons. Idempotent; about 1 s when done.
# Used by ./stack.sh (scripts/stack.d) and ./run_tests.sh (scripts/test.d).
set -euo pipefail

if ! command -v libvirtd >/dev/null; then
    echo "libvirt.sh: libvirtd is not installed; run scripts/install.sh" >&2
    exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
    sudo_cmd="sudo"
else
    sudo_cmd=""
fi

getent group kvm >/dev/null || $sudo_cmd groupadd --system kvm
getent group libvirt-qemu >/dev/null || $sudo_cmd groupadd --system libvirt-qemu
getent group libvirt >/dev/null || $sudo_cmd groupadd --system libvirt
if ! getent passwd libvirt-qemu >/dev/null; then
    $sudo_cmd useradd --system --no-create-home --home-dir /var/lib/libvirt \
        --shell /usr/sbin/nologin --gid libvirt-qemu --groups kvm libvirt-qemu
fi
# what udev does on a normal host; without it libvirt re-probes QEMU on every API call
if [[ -c /dev/kvm && "$(stat -c %G /dev/kvm)" != kvm ]]; then
    $sudo_cmd chgrp kvm /dev/kvm && $sudo_cmd chmod 0660 /dev/kvm
fi
$sudo_cmd mkdir -p /var/lib/libvirt/qemu /var/log/libvirt/qemu /var/cache/libvirt/qemu /run/libvirt

running() { pgrep -x "$1" >/dev/null 2>&1; }
socket_alive() { [[ -S /run/libvirt/libvirt-sock ]] && virsh -c qemu:///system version >/dev/null 2>&1; }

if ! running virtlogd; then
    echo "starting virtlogd"
    $sudo_cmd virtlogd -d
fi
if ! running libvirtd; then
    echo "starting libvirtd"
    $sudo_cmd libvirtd -d
fi
for _ in $(seq 1 50); do
    socket_alive && exit 0
    sleep 0.2
done
echo "libvirt.sh: libvirtd started but qemu:///system does not answer; see /var/log/libvirt" >&2
exit 1
