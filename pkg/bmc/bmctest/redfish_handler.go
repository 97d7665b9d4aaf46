package bmctest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
)

func (r *Redfish) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	p := strings.TrimSuffix(req.URL.Path, "/")
	if p == "" {
		p = "/"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	auth := r.auth(req)
	r.requests = append(r.requests, Request{Method: req.Method, Path: p, Auth: auth, IfMatch: req.Header.Get("If-Match"), Body: string(body)})

	public := req.Method == http.MethodGet && (p == "/redfish" || p == redfishRoot)
	login := req.Method == http.MethodPost && p == sessionsPath
	if !public && !login && auth == "none" {
		writeError(w, http.StatusUnauthorized, "Base.1.8.InsufficientPrivilege", "log in first")
		return
	}
	switch {
	case p == "/redfish" && req.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, "", map[string]any{"v1": "/redfish/v1/"})
	case login && r.opts.NoSessions:
		writeError(w, http.StatusMethodNotAllowed, "Base.1.8.OperationNotAllowed", "sessions are not supported")
	case login:
		r.login(w, body)
	case req.Method == http.MethodDelete && strings.HasPrefix(p, sessionsPath+"/"):
		for tok, sp := range r.sessions {
			if sp == p {
				delete(r.sessions, tok)
			}
		}
		w.WriteHeader(http.StatusNoContent)
	case req.Method == http.MethodGet:
		doc, ok := r.docs[p]
		if !ok {
			writeError(w, http.StatusNotFound, "Base.1.8.ResourceMissingAtURI", p)
			return
		}
		w.Header().Set("Allow", r.allow(p)) // Redfish: GET answers say which methods the resource takes
		writeJSON(w, http.StatusOK, r.etag(p), doc)
	case req.Method == http.MethodPatch:
		r.patch(w, req, p, body)
	case req.Method == http.MethodPost && strings.HasSuffix(p, "/Actions/ComputerSystem.Reset") && r.drops > 0:
		r.drops--
		r.reset(httptest.NewRecorder(), strings.TrimSuffix(p, "/Actions/ComputerSystem.Reset"), body)
		dropConnection(w)
	case req.Method == http.MethodPost && strings.HasSuffix(p, "/Actions/ComputerSystem.Reset"):
		r.reset(w, strings.TrimSuffix(p, "/Actions/ComputerSystem.Reset"), body)
	case req.Method == http.MethodPost && strings.Contains(p, "/Actions/VirtualMedia."):
		r.mediaAction(w, p, body)
	default:
		writeError(w, http.StatusMethodNotAllowed, "Base.1.8.OperationNotAllowed", req.Method+" "+p)
	}
}

// auth says how the request authenticated: session, basic or none (also for bad credentials).
func (r *Redfish) auth(req *http.Request) string {
	if tok := req.Header.Get("X-Auth-Token"); tok != "" {
		if _, ok := r.sessions[tok]; ok {
			return "session"
		}
		return "none"
	}
	if u, pw, ok := req.BasicAuth(); ok && u == r.opts.Username && pw == r.opts.Password {
		return "basic"
	}
	return "none"
}

func (r *Redfish) login(w http.ResponseWriter, body []byte) {
	var creds struct{ UserName, Password string }
	if json.Unmarshal(body, &creds) != nil || creds.UserName != r.opts.Username || creds.Password != r.opts.Password {
		writeError(w, http.StatusUnauthorized, "Base.1.8.NoValidSession", "invalid user name or password")
		return
	}
	tok := newToken()
	sp := sessionsPath + "/" + tok[:8]
	r.sessions[tok] = sp
	w.Header().Set("X-Auth-Token", tok)
	w.Header().Set("Location", sp)
	writeJSON(w, http.StatusCreated, "", map[string]any{"@odata.id": sp, "Id": tok[:8], "UserName": creds.UserName})
}

func (r *Redfish) etag(p string) string { return fmt.Sprintf(`"%d"`, r.versions[p]+1) }

// precondition checks If-Match: required when strict, always compared when given.
func (r *Redfish) precondition(w http.ResponseWriter, req *http.Request, p string) bool {
	im := req.Header.Get("If-Match")
	switch {
	case im == "" && (r.opts.Strict || r.opts.RequireIfMatch):
		writeError(w, http.StatusPreconditionRequired, "Base.1.8.PreconditionRequired", "If-Match is required")
		return false
	case im != "" && im != "*" && im != r.etag(p):
		writeError(w, http.StatusPreconditionFailed, "Base.1.8.PreconditionFailed", "ETag "+im+" is stale")
		return false
	}
	return true
}

func (r *Redfish) patch(w http.ResponseWriter, req *http.Request, p string, body []byte) {
	doc, ok := r.docs[p]
	if !ok {
		writeError(w, http.StatusNotFound, "Base.1.8.ResourceMissingAtURI", p)
		return
	}
	var patch map[string]any
	if err := json.Unmarshal(body, &patch); err != nil {
		writeError(w, http.StatusBadRequest, "Base.1.8.MalformedJSON", err.Error())
		return
	}
	if !r.precondition(w, req, p) {
		return
	}
	if len(r.reject) > 0 {
		code := r.reject[0]
		r.reject = r.reject[1:]
		r.versions[p]++ // as if someone else had changed it
		writeError(w, code, "Base.1.8.PreconditionFailed", "rejected by the test")
		return
	}
	var err error
	switch {
	case p == r.sys:
		err = r.patchSystem(doc, patch)
	case p == r.cdPath():
		if err = r.mediaParams(patch); err == nil {
			err = r.patchMedia(doc, patch)
		}
	default:
		err = fmt.Errorf("Base.1.8.PropertyNotWritable: %s is read-only here", p)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, strings.SplitN(err.Error(), ":", 2)[0], err.Error())
		return
	}
	r.versions[p]++
	writeJSON(w, http.StatusOK, r.etag(p), doc)
}

func (r *Redfish) patchSystem(doc, patch map[string]any) error {
	boot := doc["Boot"].(map[string]any)
	for k, v := range patch {
		if k != "Boot" {
			return fmt.Errorf("Base.1.8.PropertyUnknown: %s", k)
		}
		bp, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("Base.1.8.PropertyValueTypeError: Boot")
		}
		for bk, bv := range bp {
			s, _ := bv.(string)
			switch bk {
			case "BootSourceOverrideTarget":
				allowed, _ := boot["BootSourceOverrideTarget@Redfish.AllowableValues"].([]any)
				if !slices.Contains(allowed, any(s)) {
					return fmt.Errorf("Base.1.8.PropertyValueNotInList: %s %q", bk, s)
				}
			case "BootSourceOverrideEnabled":
				if !allowedValue(boot, bk, s, "Once", "Continuous", "Disabled") || slices.Contains(r.opts.RefuseBootEnabled, s) {
					return fmt.Errorf("Base.1.8.PropertyValueNotInList: %s %q", bk, s)
				}
			case "BootSourceOverrideMode":
				if _, has := boot[bk]; !has {
					return fmt.Errorf("Base.1.8.PropertyUnknown: Boot/%s", bk)
				}
				if !allowedValue(boot, bk, s, "UEFI", "Legacy") {
					return fmt.Errorf("Base.1.8.PropertyValueNotInList: %s %q", bk, s)
				}
			case "HttpBootUri":
				if _, has := boot[bk]; !has {
					return fmt.Errorf("Base.1.8.PropertyUnknown: Boot/%s", bk)
				}
			default:
				if r.opts.Strict {
					return fmt.Errorf("Base.1.8.PropertyUnknown: Boot/%s", bk)
				}
			}
		}
		for bk, bv := range bp {
			boot[bk] = bv
		}
	}
	return nil
}

func (r *Redfish) patchMedia(doc, patch map[string]any) error {
	for k := range patch {
		if !slices.Contains([]string{"Image", "Inserted", "WriteProtected", "TransferProtocolType", "TransferMethod", "UserName", "Password"}, k) {
			return fmt.Errorf("Base.1.8.PropertyUnknown: %s", k)
		}
	}
	if img, ok := patch["Image"].(string); ok && img != "" {
		doc["Image"], doc["Inserted"] = img, true
	}
	if ins, ok := patch["Inserted"].(bool); ok && !ins {
		doc["Inserted"] = false
		if img, given := patch["Image"]; (given && img == nil) || !r.opts.KeepImageOnEject {
			doc["Image"] = nil
		}
	}
	if tp, ok := patch["TransferProtocolType"].(string); ok {
		doc["TransferProtocolType"] = tp
	}
	if wp, ok := patch["WriteProtected"].(bool); ok {
		doc["WriteProtected"] = wp
	}
	return nil
}

func (r *Redfish) reset(w http.ResponseWriter, sysPath string, body []byte) {
	doc, ok := r.docs[sysPath]
	if !ok {
		writeError(w, http.StatusNotFound, "Base.1.8.ResourceMissingAtURI", sysPath)
		return
	}
	var a struct{ ResetType string }
	_ = json.Unmarshal(body, &a)
	action := doc["Actions"].(map[string]any)["#ComputerSystem.Reset"].(map[string]any)
	if allowed, _ := action["ResetType@Redfish.AllowableValues"].([]any); !slices.Contains(allowed, any(a.ResetType)) {
		writeError(w, http.StatusBadRequest, "Base.1.8.ActionParameterNotSupported", "ResetType "+a.ResetType)
		return
	}
	switch a.ResetType {
	case "On", "ForceOn", "ForceRestart", "GracefulRestart", "PowerCycle":
		doc["PowerState"] = "On"
	case "ForceOff", "GracefulShutdown":
		doc["PowerState"] = "Off"
	case "PushPowerButton":
		doc["PowerState"] = map[bool]string{true: "Off", false: "On"}[doc["PowerState"] == "On"]
	}
	r.resets = append(r.resets, a.ResetType)
	r.versions[sysPath]++
	w.WriteHeader(http.StatusNoContent)
}

func (r *Redfish) mediaAction(w http.ResponseWriter, p string, body []byte) {
	i := strings.Index(p, "/Actions/")
	mp, action := p[:i], p[i+len("/Actions/"):]
	doc, ok := r.docs[mp]
	if !ok || doc["Actions"] == nil {
		writeError(w, http.StatusNotFound, "Base.1.8.ResourceMissingAtURI", p)
		return
	}
	switch action {
	case "VirtualMedia.InsertMedia":
		var a struct {
			Image                string
			Inserted             *bool
			WriteProtected       *bool
			TransferProtocolType string
		}
		_ = json.Unmarshal(body, &a)
		if a.Image == "" {
			writeError(w, http.StatusBadRequest, "Base.1.8.ActionParameterMissing", "Image")
			return
		}
		if id, msg := r.checkInsert(doc, body); id != "" {
			writeError(w, http.StatusBadRequest, id, msg)
			return
		}
		if a.TransferProtocolType != "" {
			doc["TransferProtocolType"] = a.TransferProtocolType
		}
		if a.WriteProtected != nil {
			doc["WriteProtected"] = *a.WriteProtected
		}
		if doc["Inserted"] == true {
			writeError(w, http.StatusBadRequest, "Base.1.8.ResourceInUse", "eject the current image first")
			return
		}
		doc["Image"], doc["Inserted"] = a.Image, true
	case "VirtualMedia.EjectMedia":
		var obj map[string]any
		if r.opts.EjectBodyObject && (json.Unmarshal(body, &obj) != nil || obj == nil) {
			writeError(w, http.StatusBadRequest, "Base.1.8.MalformedJSON", "the request body must be a JSON object, got "+strconv.Quote(string(body)))
			return
		}
		doc["Image"], doc["Inserted"] = nil, false
	default:
		writeError(w, http.StatusNotFound, "Base.1.8.ActionNotSupported", action)
		return
	}
	r.versions[mp]++
	w.WriteHeader(http.StatusNoContent)
}

// dropConnection closes the request's connection without a word.
func dropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
	}
}

func writeJSON(w http.ResponseWriter, code int, etag string, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("OData-Version", "4.0")
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, code int, id, msg string) {
	writeJSON(w, code, "", map[string]any{"error": map[string]any{"code": id, "message": msg,
		"@Message.ExtendedInfo": []any{map[string]any{"MessageId": id, "Message": msg}}}})
}
