package labsim

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/iana"
)

// httpBoot is UEFI HTTP boot from the URI the BMC set: the firmware takes its address by
// DHCP as an HTTP boot client (any boot file in the answer is ignored: the BMC named the URI,
// so no PXE option is needed), fetches the URI whole (the appliance's ipxe.efi), and iPXE,
// started that way, fetches autoexec.ipxe from beside its own URI, as iPXE's EFI build does.
// That script's dhcp and chain lead to the per-MAC boot script, then as in a network boot to
// the kernel, initrds and rootfs.
func (n *NetNode) httpBoot(ctx context.Context, uri string) error {
	if _, err := n.dhcp(ctx, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("HTTPClient:Arch:00016:UNDI:003001")),
		dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64_HTTP))); err != nil {
		return fmt.Errorf("UEFI HTTP boot: %w", err)
	}
	if err := n.download(ctx, uri); err != nil {
		return fmt.Errorf("UEFI HTTP boot: %w", err)
	}
	n.count(func(c *Counts) { c.HTTPBoots++ })
	base, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("UEFI HTTP boot: %w", err)
	}
	autoexec := base.ResolveReference(&url.URL{Path: "autoexec.ipxe"}).String()
	script, err := n.httpGet(ctx, autoexec)
	if err != nil {
		return fmt.Errorf("iPXE from %s: %w", uri, err)
	}
	chain := ""
	sc := bufio.NewScanner(strings.NewReader(script))
	for sc.Scan() && chain == "" {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) == 0:
		case fields[0] == "dhcp":
			if _, err := n.dhcp(ctx, dhcpv4.WithOption(dhcpv4.OptClassIdentifier("PXEClient:Arch:00007:UNDI:003016")),
				dhcpv4.WithOption(dhcpv4.OptClientArch(iana.EFI_X86_64)), dhcpv4.WithUserClass("iPXE", false)); err != nil {
				return fmt.Errorf("iPXE from %s: %w", uri, err)
			}
		case fields[0] == "chain" && len(fields) > 1:
			chain = strings.ReplaceAll(fields[1], "${net0/mac:hexhyp}", strings.ReplaceAll(n.BootMAC.String(), ":", "-"))
		}
	}
	if chain == "" {
		return fmt.Errorf("iPXE from %s: %s chains to no script:\n%s", uri, autoexec, script)
	}
	return n.runScript(ctx, chain)
}

// download fetches url whole, as firmware loads an EFI binary.
func (n *NetNode) download(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := n.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	k, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || k == 0 {
		return fmt.Errorf("GET %s: %s, %d bytes", url, resp.Status, k)
	}
	return nil
}
