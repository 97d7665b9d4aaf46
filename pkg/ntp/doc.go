// Package ntp is the appliance's NTP server for the lab networks: it answers NTPv3 and NTPv4
// client requests (mode 3) on the appliance's own addresses with the host's clock, and tells
// clients how far to trust it from the host's own synchronisation state, as the kernel knows
// it (adjtimex): a synchronised host is served at stratum 3 with the kernel's maximum error
// as root dispersion; an unsynchronised one at stratum 16 with the leap alarm, so clients
// ignore it; unless the lab sets a local stratum, which serves the host clock at that
// stratum whatever its state (chrony's `local stratum`), for labs with no upstream time.
//
// It owns its UDP sockets and the cn2_appliance_ntp_* metrics. It does not read the lab
// file (pkg/appliance turns the lab into a Config) and never sets the host clock: it only
// reads it. The wire format is github.com/facebook/time/ntp/protocol's.
package ntp
