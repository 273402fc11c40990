#!/bin/sh
# Builds the Nimbo guest image (images/nimbo-guest.qcow2) from Debian packages, without root
# loop mounts: the kernel of linux-image-cloud-amd64, and an initramfs with busybox-static
# (init, udhcpc, the shell) and dropbear (sshd), on a small FAT disk booted by SYSLINUX.
#
# The guest runs entirely from its initramfs (nothing is written back to the disk): it asks
# DHCP for its address and host name on every NIC it finds, then starts sshd on port 22.
# Root logs in with the password "nimbo" or the key images/nimbo-guest-key (test keys,
# published on purpose: never put this image on a network you do not control).
#
# Needs: apt-get (with package lists), dpkg-deb, cpio, gzip, mkfs.fat (dosfstools),
# syslinux + mtools, qemu-img, openssl. Downloaded .debs are kept in images/build/debs, so a
# rebuild works offline. Usage: scripts/build-guest-image.sh  (or `make image`).
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/images"
BUILD="$OUT/build"
IMAGE="$OUT/nimbo-guest.qcow2"
KERNEL_META=${NIMBO_GUEST_KERNEL:-linux-image-cloud-amd64}
PASSWORD=${NIMBO_GUEST_PASSWORD:-nimbo}
KEY="$OUT/nimbo-guest-key"
PACKAGES="busybox-static dropbear-bin libtomcrypt1 libtommath1 libgmp10 libcrypt1 zlib1g libc6"
# Drivers loaded at boot, dependencies first: network (virtio for libvirt/QEMU, e1000 as a fallback),
# and the ACPI power button with its input events, so a graceful shutdown (virsh shutdown) powers off.
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net e1000 evdev button"

mkdir -p "$BUILD/debs"
rm -rf "$BUILD/x" "$BUILD/rootfs" "$BUILD/disk.raw"
mkdir -p "$BUILD/x" "$BUILD/rootfs"

# --- 1. Debian packages -------------------------------------------------------------------------
cd "$BUILD/debs"
kernel_pkg=$(ls linux-image-*-amd64_*.deb 2>/dev/null | head -n1 | cut -d_ -f1 || true)
if [ -z "$kernel_pkg" ]; then
    kernel_pkg=$(apt-cache depends "$KERNEL_META" | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$kernel_pkg" ] || { echo "cannot resolve $KERNEL_META (run apt-get update)" >&2; exit 1; }
    apt-get download "$kernel_pkg" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
fi
for pkg in $PACKAGES; do
    ls "${pkg}"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true
    ls "${pkg}"_*.deb >/dev/null 2>&1 || { echo "could not download $pkg" >&2; exit 1; }
done
for deb in *.deb; do dpkg-deb -x "$deb" "$BUILD/x"; done
X="$BUILD/x"
KVER=$(ls "$X/lib/modules" | head -n1)

# --- 2. The initramfs tree ------------------------------------------------------------------------
R="$BUILD/rootfs"
cd "$R"
mkdir -p bin dev proc sys run tmp root/.ssh etc/dropbear lib/x86_64-linux-gnu lib64 "lib/modules/$KVER" var
ln -s bin sbin
mkdir -p usr && ln -s ../bin usr/bin && ln -s ../bin usr/sbin && ln -s ../lib usr/lib
ln -s ../run var/run
cp "$X/bin/busybox" bin/busybox
for applet in $("$X/bin/busybox" --list); do
    [ -e "bin/$applet" ] || ln -s busybox "bin/$applet"
done

# dropbear (sshd), its client dbclient (also as `ssh`, so one guest can log in to another) and
# exactly the shared libraries they need, from the packages above.
cp "$X/usr/sbin/dropbear" bin/dropbear
cp "$X/usr/bin/dbclient" bin/dbclient
ln -s dbclient bin/ssh
cp -L "$X/lib64/ld-linux-x86-64.so.2" lib64/
LIBDIRS="$X/lib/x86_64-linux-gnu:$X/usr/lib/x86_64-linux-gnu"
needed() { objdump -p "$1" 2>/dev/null | awk '/NEEDED/ {print $2}' || readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'; }
copy_libs() {
    for lib in $(needed "$1"); do
        [ -e "lib/x86_64-linux-gnu/$lib" ] && continue
        src=$(for d in $(echo "$LIBDIRS" | tr ':' ' '); do [ -e "$d/$lib" ] && echo "$d/$lib" && break; done)
        [ -n "$src" ] || { echo "library $lib not found in the packages" >&2; exit 1; }
        cp -L "$src" "lib/x86_64-linux-gnu/$lib"
        copy_libs "lib/x86_64-linux-gnu/$lib"
    done
}
copy_libs bin/dropbear
copy_libs bin/dbclient

for m in $MODULES; do
    f=$(find "$X/lib/modules/$KVER/kernel" -name "$m.ko" | head -n1)
    [ -n "$f" ] && cp "$f" "lib/modules/$KVER/"
done

hash=$(printf '%s\n' "$PASSWORD" | openssl passwd -6 -stdin)
printf 'root:x:0:0:root:/root:/bin/sh\n' > etc/passwd
printf 'root:x:0:\n' > etc/group
printf 'root:%s:19000:0:99999:7:::\n' "$hash" > etc/shadow
chmod 600 etc/shadow
printf '/bin/sh\n' > etc/shells
printf 'nimbo-guest\n' > etc/hostname
if [ ! -f "$KEY" ]; then ssh-keygen -q -t ed25519 -N "" -C "nimbo-guest-key (public test key)" -f "$KEY"; fi
cp "$KEY.pub" root/.ssh/authorized_keys
[ -n "${NIMBO_GUEST_AUTHORIZED_KEY:-}" ] && printf '%s\n' "$NIMBO_GUEST_AUTHORIZED_KEY" >> root/.ssh/authorized_keys
chmod 700 root/.ssh root && chmod 600 root/.ssh/authorized_keys

cat > etc/udhcpc.script <<'EOF'
#!/bin/sh
# udhcpc hook: address, default route, DNS and the host name the DHCP server hands out.
case "$1" in
deconfig)
    ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "${router:-}" ]; then
        ip route del default dev "$interface" 2>/dev/null
        for r in $router; do ip route add default via "$r" dev "$interface" && break; done
    fi
    : > /etc/resolv.conf
    [ -n "${domain:-}" ] && echo "search $domain" >> /etc/resolv.conf
    for d in ${dns:-}; do echo "nameserver $d" >> /etc/resolv.conf; done
    if [ -n "${hostname:-}" ]; then hostname "$hostname"; echo "$hostname" > /etc/hostname; fi ;;
esac
exit 0
EOF
chmod 755 etc/udhcpc.script

# busybox acpid runs /etc/acpi/PWRF/* when the power button is pressed (an ACPI shutdown request).
mkdir -p etc/acpi/PWRF
printf '#!/bin/sh\necho "nimbo-guest: power button, shutting down" > /dev/console\npoweroff\n' > etc/acpi/PWRF/00000080
chmod 755 etc/acpi/PWRF/00000080

cat > etc/inittab <<'EOF'
::sysinit:/etc/rc
ttyS0::respawn:/bin/getty -L 115200 ttyS0 vt100
tty1::respawn:/bin/getty 38400 tty1
::ctrlaltdel:/bin/reboot
::shutdown:/bin/umount -a -r
EOF

cat > etc/rc <<EOF
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
hostname -F /etc/hostname
for m in $MODULES; do [ -f /lib/modules/$KVER/\$m.ko ] && { insmod /lib/modules/$KVER/\$m.ko || echo "nimbo-guest: insmod \$m failed"; }; done
echo "nimbo-guest: interfaces \$(ls /sys/class/net | tr "\\n" " ")"
mkdir -p /var/log && acpid || echo "nimbo-guest: acpid did not start"
ip link set lo up
for dev in /sys/class/net/*; do
    name=\${dev##*/}
    [ "\$name" = lo ] && continue
    ip link set "\$name" up
    udhcpc -b -i "\$name" -s /etc/udhcpc.script -x hostname:\$(hostname) -O hostname -O domain -t 20 -T 1 -A 3 >/dev/null 2>&1
done
dropbear -R -p 22 || echo "nimbo-guest: dropbear did not start"
echo "nimbo-guest: \$(hostname) up on \$(ip -4 -o addr show scope global | awk '{print \$2, \$4}' | tr '\\n' ' ')"
EOF
chmod 755 etc/rc

cat > init <<'EOF'
#!/bin/sh
exec /bin/init
EOF
chmod 755 init

( find . | sort | cpio -o -H newc -R 0:0 --quiet | gzip -9 ) > "$BUILD/initrd.gz"
cp "$X/boot/vmlinuz-$KVER" "$BUILD/vmlinuz"

# --- 3. A FAT disk that boots with SYSLINUX (no partition table: SeaBIOS boots it as is) ---------
cd "$BUILD"
cat > syslinux.cfg <<'EOF'
DEFAULT nimbo
PROMPT 0
TIMEOUT 0
LABEL nimbo
  LINUX /vmlinuz
  INITRD /initrd.gz
  APPEND console=tty0 console=ttyS0,115200 panic=10 quiet
EOF
size_kb=$(( ( $(stat -c %s vmlinuz) + $(stat -c %s initrd.gz) ) / 1024 + 4096 ))
truncate -s "${size_kb}K" disk.raw
mkfs.fat -n NIMBO disk.raw >/dev/null
syslinux --install disk.raw
mcopy -i disk.raw vmlinuz initrd.gz syslinux.cfg ::/
rm -f "$IMAGE.tmp"
qemu-img convert -q -f raw -O qcow2 -c disk.raw "$IMAGE.tmp"
mv "$IMAGE.tmp" "$IMAGE"
# The recipe this image was built from: tests and benchmarks rebuild a stale image (apps/infra/guest_image.py).
sha256sum < "$ROOT/scripts/build-guest-image.sh" | cut -d' ' -f1 > "$IMAGE.recipe"
echo "$IMAGE ($(du -h "$IMAGE" | cut -f1)): kernel $KVER, root password '$PASSWORD', key $KEY"
