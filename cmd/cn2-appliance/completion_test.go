package main

import (
	"bytes"
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

// TestBashCompletionScript drives the generated bash script as bash does on <TAB>, with the
// real binary, when bash is here.
func TestBashCompletionScript(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin := filepath.Join(t.TempDir(), "cn2-appliance")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	lab, _ := filepath.Abs(exampleLab)
	script := `source <("$BIN" completion bash)
COMP_WORDS=(cn2-appliance power -c "$LAB" w); COMP_CWORD=4; COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}
__start_cn2-appliance
printf '%s\n' "${COMPREPLY[@]}"`
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = append(cmd.Environ(), "BIN="+bin, "LAB="+lab)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if got := strings.Fields(out.String()); !slices.Equal(got, []string{"worker-0", "worker-1"}) {
		t.Errorf("bash completes `power -c LAB w<TAB>` to %q, want worker-0 worker-1", got)
	}
}
