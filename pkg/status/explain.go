package status

// explanation is an installer validation in plain words, with the lab key that fixes it.
type explanation struct{ plain, fix string }

// explanations of the installer's validations an operator meets most (host and cluster ids).
var explanations = map[string]explanation{
	"has-min-valid-disks": {"the installer finds no disk it can install to: each is too small, removable, or the installation media",
		"nodes[].installDisk: name a disk of at least 100 GB (the node's disks are listed in its inventory); nodes[].wipeDisks: true if old partitions are in the way"},
	"has-min-cpu-cores":      {"the machine has fewer CPU cores than any role needs (2)", "give the machine more cores (BMC or VM settings)"},
	"has-cpu-cores-for-role": {"the machine has too few CPU cores for its role", "nodes[].role (a worker needs 2, a control-plane node 4, a single node 8), or more cores"},
	"has-min-memory":         {"the machine has less memory than any role needs (8 GiB)", "give the machine more memory (BMC or VM settings)"},
	"has-memory-for-role":    {"the machine has too little memory for its role", "nodes[].role (a worker needs 8 GiB, a control-plane node 16 GiB), or more memory"},
	"installation-disk-speed-check-successful": {"the installation disk is too slow for etcd (fsync over 10 ms)",
		"nodes[].installDisk: name an SSD or NVMe disk"},
	"has-default-route": {"the host has no default route", "networks[].gateway on the machine network (allowNoDefaultRoute only where none exists)"},
	"hostname-unique":   {"another host has the same name", "nodes[].name"},
	"hostname-valid":    {"the host name is not allowed (localhost, or not a DNS label)", "nodes[].name"},
	"ntp-synced":        {"the host's clock is not synchronised", "ntp.serve, ntp.localStratum, or dhcp.ntpServers"},
	"belongs-to-machine-cidr": {"the host has no address in the machine network",
		"nodes[].nics (a NIC on the machine network) and cluster.machineNetwork"},
	"container-images-available": {"the host cannot pull the release images", "dns.forwarders, and cluster.pullSecretFile"},
	"sufficient-masters-count":   {"the cluster does not have the control-plane nodes it needs", "nodes[].role: three control-plane nodes, or one and no workers"},
	"api-vips-valid":             {"the API VIP is not usable in the machine network", "cluster.apiVIP"},
	"ingress-vips-valid":         {"the ingress VIP is not usable in the machine network", "cluster.ingressVIP"},
}

// ExplainValidation words an installer validation for the status page: what is wrong, and
// the lab key (or action) that fixes it; "" for validations it does not know.
func ExplainValidation(id string) (plain, fix string) {
	e := explanations[id]
	return e.plain, e.fix
}
