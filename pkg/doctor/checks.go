package doctor

// checks is every check the doctor runs, in the order the table lists them. Each lives in its
// own check_*.go file.
var checks = []Check{
	interfacesCheck,
	addressConflictsCheck,
	rogueDHCPCheck,
	dnsCheck,
	forwardersCheck,
	proxyCheck,
	installerCheck,
	pullSecretCheck,
	timeCheck,
	portsCheck,
	hardwareCheck,
}
