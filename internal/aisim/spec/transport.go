package spec

import (
	"bytes"
	"io"
	"net/http"
)

// Transport is an http.RoundTripper that checks every API request it carries and every
// response to it against the spec, and reports each violation to Report. Requests outside
// the API base path (the token endpoint, presigned downloads) pass unchecked. Tests put it
// between the client and the simulator.
type Transport struct {
	Spec   *Spec
	Next   http.RoundTripper // http.DefaultTransport when nil
	Report func(error)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	next := t.Next
	if next == nil {
		next = http.DefaultTransport
	}
	if !InAPI(r.URL) {
		return next.RoundTrip(r)
	}
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	if err := t.Spec.ValidateRequest(r.Context(), r, body); err != nil {
		t.Report(err)
	}
	resp, err := next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	rb, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rb))
	if err := t.Spec.ValidateResponse(r.Context(), r, resp.StatusCode, resp.Header, rb); err != nil {
		t.Report(err)
	}
	return resp, nil
}
