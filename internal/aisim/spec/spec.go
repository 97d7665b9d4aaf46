// Package spec holds the official Assisted Installer API description (swagger.yaml, Swagger
// 2.0, verbatim; see ORIGIN.md) and checks HTTP requests and responses against it with
// kin-openapi. Both the client in pkg/ai and the simulator in internal/aisim are tested
// through it; the simulator also uses it at run time to refuse requests the real service
// would refuse. It knows nothing about either of them.
package spec

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

//go:embed swagger.yaml
var swaggerYAML []byte

// BasePath is the prefix of every API path (the spec's basePath).
const BasePath = "/api/assisted-install"

// specHost is the spec's host; requests are matched as if sent there.
const specHost = "api.openshift.com"

// ErrNoRoute means the request's method and path are not an operation of the spec.
var ErrNoRoute = errors.New("spec: no such operation")

// Spec is the loaded API description with a router over its operations.
type Spec struct {
	Doc    *openapi3.T
	router routers.Router
}

var (
	loadOnce sync.Once
	loaded   *Spec
	loadErr  error
)

// Load parses the embedded swagger file once, converts it to OpenAPI 3 and builds a router.
func Load() (*Spec, error) {
	loadOnce.Do(func() { loaded, loadErr = load() })
	return loaded, loadErr
}

func load() (*Spec, error) {
	var doc2 openapi2.T
	if err := openapi2.UnmarshalFromData(swaggerYAML, &doc2); err != nil {
		return nil, fmt.Errorf("spec: parse swagger: %w", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("spec: convert to openapi 3: %w", err)
	}
	fixCSVQueryArrays(doc3)
	doc3.Servers = openapi3.Servers{{URL: "https://" + specHost + BasePath}}
	r, err := gorillamux.NewRouter(doc3)
	if err != nil {
		return nil, fmt.Errorf("spec: router: %w", err)
	}
	return &Spec{Doc: doc3, router: r}, nil
}

// fixCSVQueryArrays restores Swagger 2.0's default collectionFormat (csv) on query arrays
// that do not name one: openapi2conv leaves them at OpenAPI 3's default (form, exploded),
// which would make a correct csv request (severities=info,warning) look invalid.
func fixCSVQueryArrays(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, pr := range op.Parameters {
				p := pr.Value
				if p == nil || p.In != openapi3.ParameterInQuery || p.Schema == nil || p.Schema.Value == nil {
					continue
				}
				if p.Schema.Value.Type.Is("array") && p.Style == "" && p.Explode == nil {
					p.Style, p.Explode = openapi3.SerializationForm, openapi3.Ptr(false)
				}
			}
		}
	}
}

func options() *openapi3filter.Options {
	return &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true,
		MultiError:            false,
	}
}

// route finds the operation for a request sent to any host: only method, path and query count.
func (s *Spec) route(r *http.Request) (*routers.Route, map[string]string, *http.Request, error) {
	u := *r.URL
	u.Scheme, u.Host = "https", specHost
	r2 := r.Clone(r.Context())
	r2.URL = &u
	r2.Host = specHost
	route, params, err := s.router.FindRoute(r2)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %s %s", ErrNoRoute, r.Method, r.URL.Path)
	}
	return route, params, r2, nil
}

// OperationID names the operation a request maps to, or "" when none does.
func (s *Spec) OperationID(r *http.Request) string {
	route, _, _, err := s.route(r)
	if err != nil {
		return ""
	}
	return route.Operation.OperationID
}

// ValidateRequest checks method, path, parameters and body of r against the spec. body is
// the request body (r.Body is not read).
func (s *Spec) ValidateRequest(ctx context.Context, r *http.Request, body []byte) error {
	in, err := s.requestInput(r, body)
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("spec: request %s %s (%s): %w", r.Method, r.URL.Path, in.Route.Operation.OperationID, err)
	}
	return nil
}

func (s *Spec) requestInput(r *http.Request, body []byte) (*openapi3filter.RequestValidationInput, error) {
	route, params, r2, err := s.route(r)
	if err != nil {
		return nil, err
	}
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	return &openapi3filter.RequestValidationInput{
		Request:    r2,
		PathParams: params,
		Route:      route,
		Options:    options(),
	}, nil
}

// ValidateResponse checks a response's status, headers and body against the operation r
// maps to.
func (s *Spec) ValidateResponse(ctx context.Context, r *http.Request, status int, header http.Header, body []byte) error {
	in, err := s.requestInput(r, nil)
	if err != nil {
		return err
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                options(),
	}
	if status >= 400 && strings.HasPrefix(header.Get("Content-Type"), "application/octet-stream") {
		// Operations that produce only octet-stream declare JSON error schemas; kin-openapi
		// decodes octet-stream bodies as strings and cannot check them against an object.
		out.Options.ExcludeResponseBody = true
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("spec: response %d to %s %s (%s): %w", status, r.Method, r.URL.Path, in.Route.Operation.OperationID, err)
	}
	return nil
}

// InAPI reports whether a URL path lies under the spec's base path.
func InAPI(u *url.URL) bool {
	return strings.HasPrefix(u.Path, BasePath+"/")
}
