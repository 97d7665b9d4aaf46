// Package bmc controls a node's power, next boot device and virtual media through its BMC or
// hypervisor. It owns the drivers (redfish with gofish, ipmi with go-ipmi over lanplus, libvirt
// with go-libvirt) and the Client that wraps one of them with per-try timeouts, bounded
// retries with backoff (pkg/retry), structured logs, Prometheus metrics and errors that name
// the node, the driver and the operation.
//
// Retries go by idempotency (classify.go). Power state, power on and off, boot device and
// virtual media are safe to repeat and are retried after any failure a retry can help. A power
// cycle is sent again only when it certainly did not happen (the failure came before the
// request left, or the BMC answered that it did nothing); when its reply was lost, the power
// state decides: on, the cycle is taken as done; off, the node is powered on; unreadable,
// ErrOutcomeUnknown. Authentication (after one re-login of a dropped session), certificate,
// invalid and unsupported errors and IPMI's "unspecified error" are never retried. Drivers
// mark what they know: notSent for a failure before anything changed, ErrAuth/ErrInvalid/
// ErrNotSupported/ErrNotFound for what the BMC's answer says.
//
// Capabilities are small interfaces, the bmclib way: a driver implements the ones it can
// (PowerStater, PowerOner, PowerOffer, PowerCycler, BootDeviceSetter, MediaInserter, Prober) and
// the Client answers ErrNotSupported for the others. The package takes its own plain Config and
// must not import the lab model (pkg/config); pkg/appliance translates. Credentials never appear
// in errors, logs or metrics: Config redacts itself and errors are scrubbed of the password.
package bmc
