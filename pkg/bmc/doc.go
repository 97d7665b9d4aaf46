// Package bmc controls a node's power, next boot device and virtual media through its BMC or
// hypervisor. It owns the drivers (redfish with gofish, ipmi with go-ipmi over lanplus, libvirt
// with go-libvirt) and the Client that wraps one of them with per-operation timeouts, bounded
// retries with backoff, structured logs, Prometheus metrics and errors that name the node, the
// driver and the operation.
//
// Capabilities are small interfaces, the bmclib way: a driver implements the ones it can
// (PowerStater, PowerOner, PowerOffer, PowerCycler, BootDeviceSetter, MediaInserter, Prober) and
// the Client answers ErrNotSupported for the others. The package takes its own plain Config and
// must not import the lab model (pkg/config); pkg/appliance translates. Credentials never appear
// in errors, logs or metrics: Config redacts itself and errors are scrubbed of the password.
package bmc
