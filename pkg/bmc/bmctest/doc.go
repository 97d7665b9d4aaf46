// Package bmctest provides the peers the bmc tests (and the power CLI tests) drive: a stateful
// Redfish BMC served by httptest from the DMTF public-rackmount1 mockup (with named faults: a
// reset whose reply is lost, a limited set of reset types) and vendor profiles as data
// (profiles/*.json: Dell iDRAC, HPE iLO 5/6, Supermicro X12, Lenovo XCC and others),
// OpenIPMI's ipmi_sim with a state-file chassis (and a UDP relay in front of it that loses
// replies on request), and a private libvirtd with the test driver. Peers listen on loopback only, live in a test temp
// dir, and are stopped by PID when the test ends; a missing binary or missing privileges skip
// the test with a clear reason.
package bmctest
