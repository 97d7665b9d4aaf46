#!/usr/bin/env bash
# Installs, as root on Debian 12, every package the tests and benchmarks use, plus the Go linters.
# Idempotent: safe to run on every test run; it only calls apt-get when something is missing.
set -euo pipefail

packages=(
  # DNS peers (pkg/dns): clients, load generator, benchmark peer / upstream
  bind9-dnsutils knot-dnsutils dnsperf dnsmasq-base
  # DHCP peers (pkg/dhcp): clients, perfdhcp, Kea as benchmark peer
  isc-dhcp-client udhcpc busybox dhcpcd-base kea-admin kea-common kea-dhcp4-server
  # TFTP peers (pkg/pxe)
  tftp-hpa atftp tftpd-hpa curl
  # HTTP peer (bench/http): nginx with sendfile
  nginx-light
  # network boot (pkg/pxe, test/e2e/pxe_test.go): iPXE binaries (/usr/lib/ipxe) and qemu's iPXE
  # ROMs, qemu (TCG) with OVMF, xorriso for the test discovery ISO, and a kernel for the VM to
  # boot (the cloud flavour: smallest Debian kernel with virtio and serial built in)
  ipxe ipxe-qemu qemu-system-x86 ovmf xorriso linux-image-cloud-amd64
  # NTP peers (pkg/ntp): chronyd -Q (query only, never sets the clock) and sntp, as clients of
  # the appliance's NTP server in a test namespace; the doctor's tests run chronyd as the lab's
  # NTP server. chrony replaces systemd-timesyncd (they conflict); neither runs as a service.
  chrony sntp
  # netns topology helpers
  iproute2 bridge-utils
  # BMC peers (pkg/bmc): IPMI simulator and client, libvirtd with the test driver, Redfish clients
  openipmi ipmitool libvirt-daemon libvirt-clients libvirt-daemon-driver-qemu libvirt-daemon-system
  redfishtool python3-sushy
  # status page, metrics and service unit (test/e2e: statuspage, metrics, systemd tests): headless
  # chromium, promtool (shipped by prometheus), systemd-analyze
  chromium prometheus systemd
  # the corporate proxy (pkg/outbound: appliance -> proxy -> installer in namespaces)
  tinyproxy
  # shell completion (cmd/cn2-appliance completion test): bash-completion's helpers the generated
  # bash script calls
  bash-completion
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps: missing packages ${missing[*]}; run this script as root to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Go tools used by `make lint`.
if ! command -v staticcheck >/dev/null 2>&1 && [ ! -x "$(go env GOPATH)/bin/staticcheck" ]; then
  GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.8.2
fi
