package bmctest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Redfish identifiers of the mockup.
const (
	RedfishSystem  = "/redfish/v1/Systems/437XR1138R2"
	RedfishManager = "/redfish/v1/Managers/BMC"
	redfishRoot    = "/redfish/v1"
	sessionsPath   = "/redfish/v1/SessionService/Sessions"
)

// RedfishOptions selects the fake BMC's behaviour.
type RedfishOptions struct {
	// MediaUnderManager moves the VirtualMedia collection from the System (the mockup's
	// layout) to the Manager, and gives the media InsertMedia/EjectMedia actions. Under the
	// System the media have no actions, as in the mockup, so clients must PATCH them.
	MediaUnderManager bool
	// Strict answers 400 to PATCH bodies with properties it does not know (the Boot object
	// has no BootSourceOverrideMode here), and 428 to a PATCH without If-Match.
	Strict bool
	// TLS serves https with httptest's self-signed certificate.
	TLS bool
	// NoSessions answers 405 to session logins, like BMCs that only take basic auth.
	NoSessions bool
	// Username and Password are the only accepted credentials (default admin / password).
	Username, Password string
	// ResetTypes, when set, replaces the ResetType values the system allows (the mockup's:
	// On, ForceOff, GracefulShutdown, GracefulRestart, ForceRestart, Nmi, ForceOn,
	// PushPowerButton), like a BMC that only offers these.
	ResetTypes []string

	// Profile names a vendor profile (profiles/NAME.json, see RedfishProfiles): renames,
	// JSON merge patches and added documents on top of the mockup, and the options below.
	// Options the profile sets override the caller's.
	Profile string
	// NoMediaActions leaves the media under the Manager without actions (PATCH only).
	NoMediaActions bool
	// RequireIfMatch answers 428 to a PATCH without If-Match (Strict does too).
	RequireIfMatch bool
	// RefuseMediaParams: an insert (action or PATCH) that sends one of these answers 400
	// naming them all.
	RefuseMediaParams []string
	// RequireMediaParams: an insert without one of these answers 400 naming it.
	RequireMediaParams []string
	// EjectBodyObject answers 400 to an EjectMedia action whose body is not a JSON object.
	EjectBodyObject bool
	// KeepImageOnEject: a media PATCH of Inserted false without Image null leaves the Image.
	KeepImageOnEject bool
	// RefuseBootEnabled: BootSourceOverrideEnabled values answered with 400 although the
	// system does not say so (no AllowableValues for them).
	RefuseBootEnabled []string
}

// Request is one request the fake received.
type Request struct {
	Method, Path, Auth, IfMatch string // Auth: none, basic, session
	Body                        string
}

// Redfish is a stateful fake Redfish BMC: ComputerSystem.Reset, PATCH of Boot, virtual media
// insert/eject, sessions and basic auth, ETags.
type Redfish struct {
	*httptest.Server
	opts RedfishOptions
	sys  string // the system's path (RedfishSystem unless the profile renames it)
	mgr  string // its manager's
	cd   string // the CD's

	mu       sync.Mutex
	docs     map[string]map[string]any
	versions map[string]int
	sessions map[string]string // token -> session path
	requests []Request
	resets   []string
	reject   []int // status codes for the next PATCHes
	conns    int   // connections accepted
	drops    int   // resets still to carry out without answering
}

// MockupDir is the folder of the DMTF public-rackmount1 mockup (pkg/bmc/testdata).
func MockupDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "public-rackmount1")
}

// NewRedfish starts the fake; it is closed when the test ends.
func NewRedfish(t testing.TB, opts RedfishOptions) *Redfish {
	t.Helper()
	if opts.Username == "" {
		opts.Username, opts.Password = "admin", "password"
	}
	prof, err := loadProfile(opts.Profile, &opts)
	if err != nil {
		t.Fatalf("redfish fake: %v", err)
	}
	r := &Redfish{opts: opts, sys: RedfishSystem, mgr: RedfishManager, docs: map[string]map[string]any{}, versions: map[string]int{}, sessions: map[string]string{}}
	if err := r.load(MockupDir()); err != nil {
		t.Fatalf("redfish fake: load mockup: %v", err)
	}
	r.rename(prof)
	r.reshape()
	r.applyProfile(prof)
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	r.Config.ErrorLog = log.New(io.Discard, "", 0) // refused TLS handshakes are part of the tests
	r.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			r.mu.Lock()
			r.conns++
			r.mu.Unlock()
		}
	}
	if opts.TLS {
		r.StartTLS()
	} else {
		r.Start()
	}
	t.Cleanup(r.Close)
	return r
}

func (r *Redfish) load(dir string) error {
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || e.Name() != "index.json" {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		rel, _ := filepath.Rel(dir, filepath.Dir(p))
		key := redfishRoot
		if rel != "." {
			key += "/" + filepath.ToSlash(rel)
		}
		r.docs[key] = doc
		return nil
	})
}

// reshape turns the static mockup into the variant asked for.
func (r *Redfish) reshape() {
	sys := r.docs[r.sys]
	if r.opts.MediaUnderManager {
		from, to := r.sys+"/VirtualMedia", r.mgr+"/VirtualMedia"
		for p, doc := range r.docs {
			if !strings.HasPrefix(p, from) {
				continue
			}
			b, _ := json.Marshal(doc)
			var moved map[string]any
			_ = json.Unmarshal([]byte(strings.ReplaceAll(string(b), from, to)), &moved)
			delete(r.docs, p)
			np := to + strings.TrimPrefix(p, from)
			if _, isMember := moved["MediaTypes"]; isMember && !r.opts.NoMediaActions {
				moved["Actions"] = map[string]any{
					"#VirtualMedia.InsertMedia": map[string]any{"target": np + "/Actions/VirtualMedia.InsertMedia"},
					"#VirtualMedia.EjectMedia":  map[string]any{"target": np + "/Actions/VirtualMedia.EjectMedia"},
				}
			}
			r.docs[np] = moved
		}
		delete(sys, "VirtualMedia")
		r.docs[r.mgr]["VirtualMedia"] = map[string]any{"@odata.id": to}
	}
	if r.opts.Strict {
		delete(sys["Boot"].(map[string]any), "BootSourceOverrideMode")
	}
	if r.opts.ResetTypes != nil {
		var allowed []any
		for _, rt := range r.opts.ResetTypes {
			allowed = append(allowed, rt)
		}
		sys["Actions"].(map[string]any)["#ComputerSystem.Reset"].(map[string]any)["ResetType@Redfish.AllowableValues"] = allowed
	}
}

// PowerState is the system's PowerState.
func (r *Redfish) PowerState() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.docs[r.sys]["PowerState"].(string)
}

// SetPowerState sets the system's PowerState (On or Off).
func (r *Redfish) SetPowerState(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.docs[r.sys]["PowerState"] = s
	r.versions[r.sys]++
}

// Boot returns the system's BootSourceOverride target, enabled and mode.
func (r *Redfish) Boot() (target, enabled, mode string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.docs[r.sys]["Boot"].(map[string]any)
	s := func(k string) string { v, _ := b[k].(string); return v }
	return s("BootSourceOverrideTarget"), s("BootSourceOverrideEnabled"), s("BootSourceOverrideMode")
}

// CD returns the CD's image and whether it is inserted.
func (r *Redfish) CD() (image string, inserted bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	doc := r.docs[r.cdPath()]
	image, _ = doc["Image"].(string)
	inserted, _ = doc["Inserted"].(bool)
	return image, inserted
}

func (r *Redfish) cdPath() string {
	if r.cd != "" {
		return r.cd
	}
	if r.opts.MediaUnderManager {
		return r.mgr + "/VirtualMedia/CD1"
	}
	return r.sys + "/VirtualMedia/CD1"
}

// Resets lists the ResetType of every accepted ComputerSystem.Reset.
func (r *Redfish) Resets() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.resets)
}

// RejectNextPatch makes the next PATCH fail with code (412: someone changed the resource).
func (r *Redfish) RejectNextPatch(code int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reject = append(r.reject, code)
}

// DropNextResetReply makes the next ComputerSystem.Reset happen and then closes the
// connection without answering, as when a reply is lost: the client cannot know whether the
// reset was carried out.
func (r *Redfish) DropNextResetReply() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drops++
}

// Connections is the number of connections accepted (TLS handshakes that failed included).
func (r *Redfish) Connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns
}

// SetCredentials changes the only accepted credentials; open sessions stay valid.
func (r *Redfish) SetCredentials(username, password string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opts.Username, r.opts.Password = username, password
}

// Sessions is the number of open sessions.
func (r *Redfish) Sessions() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// ExpireSessions drops every session, as a BMC does after its session timeout.
func (r *Redfish) ExpireSessions() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.sessions)
}

// Requests lists every request received.
func (r *Redfish) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
