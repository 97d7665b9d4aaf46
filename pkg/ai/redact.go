package ai

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
)

// redactor remembers secrets the client has handled (tokens, pull secrets) and removes them
// from any text that could reach an error or a log line.
type redactor struct {
	mu      sync.Mutex
	secrets []string
}

func (r *redactor) add(s string) {
	if len(s) < 8 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.secrets {
		if x == s {
			return
		}
	}
	if len(r.secrets) >= 32 { // tokens rotate; keep the recent ones
		r.secrets = r.secrets[1:]
	}
	r.secrets = append(r.secrets, s)
}

func (r *redactor) scrub(text string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.secrets {
		text = strings.ReplaceAll(text, s, "[redacted]")
	}
	return text
}

func (r *redactor) scrubErr(err error) error {
	msg := err.Error()
	if clean := r.scrub(msg); clean != msg {
		return errors.New(clean)
	}
	return err
}

// marshalBody encodes a request body as JSON.
func marshalBody(v any) ([]byte, error) {
	return json.Marshal(v)
}
