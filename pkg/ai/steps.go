// Package ai drives the Red Hat Assisted Installer: its client, and the install flow as a list
// of named, idempotent, resumable steps.
package ai

// Steps are the install flow's steps, in order. Each reads the service's state before it acts
// and records its progress, so a restart resumes where it stopped.
var Steps = []string{
	"ensure-cluster",
	"set-network-type",
	"ensure-infra-env",
	"patch-ignition",
	"fetch-boot-artifacts",
	"boot-control-plane",
	"bind-control-plane",
	"set-vips",
	"boot-workers",
	"bind-workers",
	"label-dpdk-workers",
	"upload-manifests",
	"wait-ready",
	"install",
	"watch-install",
	"fetch-credentials",
	"verify",
}
