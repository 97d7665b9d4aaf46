package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/status"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// newReloadCmd is the unit's ExecReload=: it sends SIGHUP to the running serve and waits for
// the outcome on its status API, so that `systemctl reload` fails, with the first problem on
// stderr (the journal), when the lab file is refused.
//
// Why SIGHUP and a poll rather than an HTTP endpoint that reloads: SIGHUP stays the one reload
// path (kill -HUP, systemctl, this command all do the same), the kernel lets only root and the
// service's user send it, and the status listener stays read-only, so no local user can trigger
// anything through it. The outcome is already on the status API: the reload record's time moves
// when serve has applied or refused the file.
func newReloadCmd(g *globalFlags) *cobra.Command {
	var pid int
	var addr string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reload --pid PID",
		Short: "Have the running serve re-read its lab file (SIGHUP) and wait for the outcome; exit 1 with the first problem if it refused it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pid <= 0 {
				return errors.New("--pid: the running serve's process ID is required (the unit passes $MAINPID)")
			}
			if addr == "" {
				addr = statusAddrOf(g.config)
			}
			return reloadAndWait(cmd.OutOrStdout(), cmd.ErrOrStderr(), pid, addr, timeout)
		},
	}
	cmd.Flags().IntVar(&pid, "pid", 0, "process ID of the running serve")
	cmd.Flags().StringVar(&addr, "addr", "", "its status listener (default: the lab file's status.listen)")
	cmd.Flags().DurationVar(&timeout, "timeout", 80*time.Second, "how long to wait for the outcome (systemd's own limit for ExecReload= is 90s)")
	return cmd
}

func reloadAndWait(stdout, stderr io.Writer, pid int, addr string, timeout time.Duration) error {
	client := &http.Client{Timeout: 10 * time.Second}
	before, err := lastReload(client, addr)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("reload: signal process %d: %w", pid, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		r, err := lastReload(client, addr)
		if err != nil {
			return err
		}
		if !r.Time.Equal(before.Time) {
			if r.Successful {
				fmt.Fprintf(stdout, "reloaded %s\n", r.File)
				return nil
			}
			reportRefusal(stderr, r)
			return exitError{code: 1}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reload: process %d has not reported an outcome within %s (see its log)", pid, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// reportRefusal writes the first problem on the first line: it is what systemd and the
// operator see first. When stderr is the journal's stream, each line starts with <3> so that
// journald files it at priority err (systemd.exec(5), SyslogLevelPrefix=).
func reportRefusal(w io.Writer, r status.Reload) {
	prefix := ""
	if f, ok := w.(*os.File); ok && isJournalStream(f) {
		prefix = "<3>"
	}
	if len(r.Problems) == 0 {
		fmt.Fprintf(w, "%sreload of %s refused, still serving the previous lab\n", prefix, r.File)
		return
	}
	fmt.Fprintf(w, "%sreload refused, still serving the previous lab: %s\n", prefix, r.Problems[0])
	for _, p := range r.Problems[1:] {
		fmt.Fprintf(w, "%s%s\n", prefix, p)
	}
}

func lastReload(client *http.Client, addr string) (status.Reload, error) {
	resp, err := client.Get("http://" + addr + "/api/v1/status")
	if err != nil {
		return status.Reload{}, fmt.Errorf("reload: is the appliance running? %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return status.Reload{}, fmt.Errorf("reload: status from %s: %s", addr, resp.Status)
	}
	var s status.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return status.Reload{}, fmt.Errorf("reload: status from %s: %w", addr, err)
	}
	return s.Reload, nil
}

// statusAddrOf is the status listener the lab file names. The file is likely being reloaded
// because it changed and may not load: then status.listen is read on its own, and failing that
// the default is used.
func statusAddrOf(path string) string {
	if lab, err := config.Load(path); err == nil {
		return lab.Status.Listen.String()
	}
	listen := config.DefaultStatusListen
	var raw struct {
		Status struct {
			Listen string `yaml:"listen"`
		} `yaml:"status"`
	}
	if b, err := os.ReadFile(path); err == nil && yaml.Unmarshal(b, &raw) == nil && raw.Status.Listen != "" {
		var e config.Endpoint
		if e.UnmarshalText([]byte(raw.Status.Listen)) == nil {
			listen = e
			if listen.Port == 0 {
				listen.Port = config.DefaultStatusListen.Port
			}
		}
	}
	return listen.String()
}
