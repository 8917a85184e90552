# Sourced by compliance/build-fips.sh and scripts/build-image.sh: stages a runtime root file
# system for one ztunnel binary, the same for both images.

# stage_rootfs BIN ROOTFS: the binary at /usr/local/bin/ztunnel, exactly the shared objects the
# dynamic linker resolves for it (glibc; libstdc++/libgcc_s for BoringSSL's C++), a non-root
# user, /tmp; then, as root, proves the image is self-sufficient by running the binary inside
# it as that user.
stage_rootfs() {
  local bin=$1 rootfs=$2
  # The test bed (a CA that signs any CSR, a test CNI) must never ship: it is compiled only
  # with the `testing` feature, which image builds do not enable. Checked on the symbols.
  local testbed
  testbed=$(nm -C "$bin" 2>/dev/null | grep -c 'ztunnel::testbed::' || true)
  if [ "$testbed" != 0 ]; then
    echo "refusing to stage $bin: it contains $testbed test-bed symbols (built with --features testing?)" >&2
    return 1
  fi
  nm "$bin" >/dev/null || { echo "cannot read the symbols of $bin" >&2; return 1; }
  echo "no test-bed symbols in $bin"
  rm -rf "$rootfs"
  mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/tmp"
  chmod 1777 "$rootfs/tmp"
  cp "$bin" "$rootfs/usr/local/bin/ztunnel"
  ldd "$bin" | awk '/=> \//{print $3} /^[ \t]*\/[^ ]+ \(/{print $1}' | while read -r lib; do
    mkdir -p "$rootfs$(dirname "$lib")"
    cp -L "$lib" "$rootfs$lib"
  done
  echo "nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin" > "$rootfs/etc/passwd"
  echo "nonroot:x:65532:" > "$rootfs/etc/group"
  (cd "$rootfs" && find . -type f | sort)
  if [ "$(id -u)" = 0 ] && command -v chroot >/dev/null; then
    chroot --userspec=65532:65532 "$rootfs" /usr/local/bin/ztunnel version >/dev/null
    echo "runtime rootfs runs ztunnel as uid 65532"
  fi
}
