#!/usr/bin/env bash
# Builds a small bootable raw disk image, offline and without root mounts, from Debian packages:
# a FAT "superfloppy" (mkfs.vfat + mcopy + syslinux --install) holding Debian's kernel and a busybox
# initramfs. Its init prints `IMAGEHOUSE-MARKER: <text>` (the text is read from the disk itself, at
# MARKER_OFFSET), then the first bytes of /dev/vdb if present, and powers off.
#   scripts/make-boot-image.sh OUT [MARKER]      (MARKER defaults to A)
# The marker lives in a 1 MiB area after the filesystem, at byte 40 MiB: rewrite it to change what boots say.
set -euo pipefail
OUT=${1:?usage: make-boot-image.sh OUT [MARKER]}
MARKER=${2:-A}
FS_MIB=40
MARKER_OFFSET=$((FS_MIB * 1024 * 1024))

need=()
command -v mkfs.vfat >/dev/null || need+=(dosfstools)
command -v mcopy >/dev/null || need+=(mtools)
command -v syslinux >/dev/null || need+=(syslinux syslinux-common)
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx insmod || need+=(busybox-static)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "make-boot-image.sh: missing packages: ${need[*]} (run as root to install them with apt)" >&2
    exit 2
  fi
fi

KERNEL=$(ls /boot/vmlinuz-* | sort -V | tail -n 1)
KVER=${KERNEL#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER/kernel
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# initramfs: busybox, the virtio block modules (Debian builds them as modules), and init.
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,dev,proc,sys,modules}
cp /bin/busybox "$ROOT/bin/busybox"
for m in virtio/virtio_ring.ko virtio/virtio.ko virtio/virtio_pci_legacy_dev.ko virtio/virtio_pci_modern_dev.ko virtio/virtio_pci.ko; do
  [ -f "$MODDIR/drivers/$m" ] && cp "$MODDIR/drivers/$m" "$ROOT/modules/"
done
cp "$MODDIR/drivers/block/virtio_blk.ko" "$ROOT/modules/"
cat > "$ROOT/init" <<INIT
#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
  [ -f /modules/\$m.ko ] && /bin/busybox insmod /modules/\$m.ko 2>/dev/null
done
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 50 ]; do /bin/busybox sleep 0.1; i=\$((i + 1)); done
echo "IMAGEHOUSE-MARKER: \$(/bin/busybox dd if=/dev/vda bs=512 skip=$((MARKER_OFFSET / 512)) count=1 2>/dev/null | /bin/busybox tr -d '\\000' | /bin/busybox head -n 1)"
if [ -b /dev/vdb ]; then
  echo "IMAGEHOUSE-DATA: \$(/bin/busybox head -c 64 /dev/vdb | /bin/busybox tr -d '\\000' | /bin/busybox head -n 1)"
fi
echo "IMAGEHOUSE-DONE"
/bin/busybox poweroff -f
INIT
chmod +x "$ROOT/init"
(cd "$ROOT" && find . | cpio -o -H newc --quiet | gzip -9) > "$WORK/initrd.img"

cat > "$WORK/syslinux.cfg" <<CFG
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  KERNEL vmlinuz
  APPEND initrd=initrd.img console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init
CFG

FS=$WORK/fs.img
mkfs.vfat -C -n IMAGEHOUSE "$FS" $((FS_MIB * 1024)) >/dev/null
mcopy -i "$FS" "$KERNEL" ::vmlinuz
mcopy -i "$FS" "$WORK/initrd.img" ::initrd.img
mcopy -i "$FS" "$WORK/syslinux.cfg" ::syslinux.cfg
syslinux --install "$FS"

cp "$FS" "$OUT.tmp"
truncate -s $((MARKER_OFFSET + 1024 * 1024)) "$OUT.tmp"
printf '%s\n' "$MARKER" | dd of="$OUT.tmp" bs=512 seek=$((MARKER_OFFSET / 512)) conv=notrunc status=none
mv "$OUT.tmp" "$OUT"
echo "$OUT: $(($(stat -c %s "$OUT") / 1024 / 1024)) MiB, kernel $KVER, marker at byte $MARKER_OFFSET" >&2
