#!/bin/sh
# Install the Debian packages that building and booting the guest test image need.
# Idempotent, quiet, and fast (one dpkg-query) when everything is already installed.
#
#   qemu-system-x86  boots the image (SeaBIOS, TCG); ipxe-qemu holds the virtio NIC option ROM
#   qemu-utils       qemu-img: raw -> qcow2
#   mtools           writes the FAT boot partition inside the image file without loop mounts
#   syslinux         installs the boot loader into that FAT partition (syslinux --offset)
#   syslinux-common  mbr.bin, the master boot record that chains to the active partition
#   genisoimage      config drives (ISO 9660 labelled config-2), as Nova makes them
#   openssh-client   the boot tests log in to the guest with ssh and a key from ssh-keygen
#
# The guest's own kernel, busybox and dropbear are NOT installed here: the build fetches
# them as .deb files into its cache with `apt-get download`.
set -eu

PACKAGES="qemu-system-x86 qemu-utils ipxe-qemu mtools syslinux syslinux-common genisoimage
openssh-client"

# shellcheck disable=SC2086
installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' $PACKAGES 2>/dev/null || true)
missing=""
for pkg in $PACKAGES; do
    echo "$installed" | grep -qx "$pkg installed" || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "install-guest-deps.sh: must run as root to install:$missing" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt_get() {
    apt-get -q -y -o DPkg::Lock::Timeout=600 "$@"
}
# Refresh the package lists only when the install cannot find what it needs.
# shellcheck disable=SC2086
if ! apt_get install --no-install-recommends $missing >/tmp/install-guest-deps.log 2>&1; then
    apt_get update >>/tmp/install-guest-deps.log 2>&1
    apt_get install --no-install-recommends $missing >>/tmp/install-guest-deps.log 2>&1 || {
        cat /tmp/install-guest-deps.log >&2
        echo "install-guest-deps.sh: apt-get install failed for:$missing" >&2
        exit 1
    }
fi
echo "install-guest-deps.sh: installed:$missing"
