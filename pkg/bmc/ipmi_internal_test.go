package bmc

import (
	"fmt"
	"testing"
)

// TestIPMIBootFlags checks the bytes of boot flags parameter 5 (IPMI 2.0 table 28-14): byte 1
// bit 7 valid, bit 6 persistent, bit 5 EFI; byte 2 bits 5:2 the device selector.
func TestIPMIBootFlags(t *testing.T) {
	for _, tc := range []struct {
		o    BootOptions
		want string
	}{
		{BootOptions{Device: BootPXE}, "8004000000"},
		{BootOptions{Device: BootPXE, Mode: BootModeUEFI}, "a004000000"},
		{BootOptions{Device: BootDisk, Persistent: true, Mode: BootModeLegacy}, "c008000000"},
		{BootOptions{Device: BootCD, Persistent: true, Mode: BootModeUEFI}, "e014000000"},
	} {
		if got := fmt.Sprintf("%x", ipmiBootFlags(tc.o).Pack()); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.o, got, tc.want)
		}
	}
}
