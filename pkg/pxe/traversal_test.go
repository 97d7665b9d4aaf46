package pxe

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHTTPTraversalCurl: curl --path-as-is sends traversal paths as written (plain,
// percent-encoded, backslashes, NUL) to every HTTP route; none is answered with a file,
// and the file next to the TFTP folder is never sent. TFTP traversal: TestTFTPRefusals.
func TestHTTPTraversalCurl(t *testing.T) {
	needTool(t, "curl")
	root, files := tftpRoot(t)
	iso := filepath.Join(filepath.Dir(root), "disc.iso")
	writeFile(t, iso, []byte("ISO"))
	_, _, port := startServer(t, Config{TFTPRoot: root, ISOFile: iso})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	get := func(path string) (string, []byte) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "body")
		code, err := exec.Command("curl", "-s", "--path-as-is", "-o", out, "-w", "%{http_code}", base+path).Output()
		if err != nil {
			t.Fatalf("curl %s: %v", path, err)
		}
		body, _ := os.ReadFile(out)
		return string(code), body
	}
	if code, body := get("/undionly.kpxe"); code != "200" || string(body) != string(files["undionly.kpxe"]) {
		t.Fatalf("control: /undionly.kpxe = %s, %d bytes", code, len(body))
	}
	for _, p := range []string{
		"/../secret", "/./../secret", "/arm64/../../secret", "/%2e%2e/secret", "/%2e%2e%2fsecret", "/arm64/%2e%2e%2f%2e%2e%2fsecret",
		"/..%2fsecret", "/..%5csecret", "/..\\secret", "/%2fetc%2fpasswd", "//etc/passwd", "/secret%00.kpxe", "/undionly.kpxe%00",
		"/boot/..%2f..%2fsecret", "/boot/../../secret.ipxe", "/artifacts/..%2f..%2fsecret", "/artifacts/../secret",
		"/iso/..%2fsecret", "/iso/../disc.iso/../secret", "/iso/%2e%2e%2fdisc.iso",
	} {
		code, body := get(p)
		if code == "200" || strings.Contains(string(body), "SECRET") || strings.Contains(string(body), "root:") {
			t.Errorf("%s = %s with %q, want a refusal", p, code, body)
		}
	}
}
