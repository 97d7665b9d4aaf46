package appliance

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/cn2-appliance/cn2-appliance/pkg/verify"
)

// KubeconfigFile is where the install flow writes the cluster's kubeconfig, in a state folder.
func KubeconfigFile(stateDir string) string { return filepath.Join(stateDir, OutputDir, "kubeconfig") }

// noClusterAPI is why a rehearsal's verify does not look at the cluster's API.
const noClusterAPI = "the simulated cluster has no API server (rehearsal): only the installer's view (cluster and hosts installed) was checked"

// VerifyCluster checks lab's installed cluster through its API, with the kubeconfig in
// stateDir, reaching it through the appliance's DNS. timeout 0 checks once; otherwise it polls
// every interval until the cluster is right or timeout passes. onReport sees every check.
func VerifyCluster(ctx context.Context, lab *config.Lab, stateDir string, timeout, interval time.Duration, onReport func(verify.Report)) (verify.Report, error) {
	expect, err := verify.ExpectFor(lab)
	if err != nil {
		return verify.Report{}, err
	}
	clients, err := verify.Connect(KubeconfigFile(stateDir), expect.DNS)
	if err != nil {
		return verify.Report{}, err
	}
	return verify.Poll(ctx, clients, expect, verify.PollOptions{Timeout: timeout, Interval: interval, OnReport: onReport})
}

// verifyCluster is the install flow's last check (flow.Deps.VerifyCluster): the cluster through
// its API, each report kept for the status page, an event when what is wrong changes.
func (a *Appliance) verifyCluster(lab *config.Lab) func(ctx context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		if a.opts.NoClusterAPI {
			r := verify.Report{Time: time.Now(), Skipped: noClusterAPI}
			a.verifyLast.Store(&r)
			return r.Summary(), nil
		}
		last := -1
		r, err := VerifyCluster(ctx, lab, a.stateDir(), lab.AssistedInstaller.Timeouts.Verify.D(), a.opts.PollInterval, func(r verify.Report) {
			a.verifyLast.Store(&r)
			a.FlowBeat().Beat()
			if n := len(r.Problems); n != last && n > 0 {
				a.event(slog.LevelWarn, "verify: "+r.Summary())
			}
			last = len(r.Problems)
		})
		if err != nil {
			return "", fmt.Errorf("verify the cluster through its API: %w", err)
		}
		return r.Summary(), nil
	}
}

// verifyView is the status page's section of the last verification; nil before the first.
func (a *Appliance) verifyView() *status.Verify {
	r := a.verifyLast.Load()
	if r == nil {
		return nil
	}
	v := &status.Verify{Time: r.Time, Passed: r.OK(), Skipped: r.Skipped, Summary: r.Summary()}
	for _, p := range r.Problems {
		v.Problems = append(v.Problems, status.VerifyProblem{Kind: p.Kind, Object: p.Object(), CN2: p.CN2, Reason: p.Reason,
			Message: p.Message, Image: p.Image, Registry: p.Registry, Hint: p.Hint})
	}
	for _, p := range r.CN2Pods {
		v.CN2Pods = append(v.CN2Pods, status.VerifyPod{Namespace: p.Namespace, Name: p.Name, Node: p.Node, Status: p.Status, OK: p.OK})
	}
	return v
}

// VerifyReport is the last verification of the cluster; nil before the first.
func (a *Appliance) VerifyReport() *verify.Report { return a.verifyLast.Load() }
