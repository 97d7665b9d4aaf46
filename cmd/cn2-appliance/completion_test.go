package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// complete asks cobra's completion entry point (what the shell scripts call) for words.
func complete(t *testing.T, words ...string) []string {
	t.Helper()
	out, errOut, code := run(t, append([]string{"__complete"}, words...)...)
	if code != 0 {
		t.Fatalf("__complete %q: code %d %s", words, code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[:len(lines)-1] // the last line is the directive (:4 for no file completion)
}

// TestCompletionKnowsTheLab: `power <TAB>` offers the lab's nodes, then the verbs (and files
// after insert); `status <TAB>` the nodes; a lab file that cannot be read offers nothing.
func TestCompletionKnowsTheLab(t *testing.T) {
	nodes := []string{"master-0", "master-1", "master-2", "worker-0", "worker-1"}
	for _, tc := range []struct {
		words []string
		want  []string
	}{
		{[]string{"power", "-c", exampleLab, ""}, nodes},
		{[]string{"power", "-c", exampleLab, "work"}, nodes}, // the shell filters by prefix
		{[]string{"power", "-c", exampleLab, "worker-0", ""}, powerVerbs},
		{[]string{"power", "-c", exampleLab, "worker-0", "off", ""}, nil},
		{[]string{"status", "-c", exampleLab, ""}, nodes},
		{[]string{"status", "-c", "/nonexistent/lab.yaml", ""}, nil},
	} {
		got := complete(t, tc.words...)
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%q: %q, want %q", tc.words, got, tc.want)
		}
	}
	out, _, _ := run(t, "__complete", "power", "-c", exampleLab, "worker-0", "insert", "")
	if !strings.HasSuffix(strings.TrimSpace(out), ":0") { // ShellCompDirectiveDefault: files
		t.Errorf("insert URL completes %q, want files", out)
	}
}

// TestBashCompletionScript drives the generated bash script as bash does on <TAB>, with this
// test binary standing in for the command, when bash and bash-completion are here.
func TestBashCompletionScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	const helpers = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(helpers); err != nil {
		t.Skip("no bash-completion (scripts/install-test-deps.sh installs it)")
	}
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	lab, _ := filepath.Abs(exampleLab)
	script := `source ` + helpers + `
source <("$BIN" completion bash)
COMP_WORDS=("$BIN" power -c "$LAB" w); COMP_CWORD=4; COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
__start_cn2-appliance
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = append(cmd.Environ(), "BIN="+bin, "LAB="+lab, "CN2_APPLIANCE_TEST_RUN_MAIN=1")
	var out, errOut bytes.Buffer // compopt says on stderr that no real completion runs
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	if got := strings.Fields(out.String()); !slices.Equal(got, []string{"worker-0", "worker-1"}) {
		t.Errorf("bash completes `power -c LAB w<TAB>` to %q, want worker-0 worker-1", got)
	}
}
