package bmc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// redfishDriver drives a Redfish BMC with gofish: one ComputerSystem (by id, or the only one),
// its Reset action with reset types chosen from the allowable values, its Boot override and
// a CD-capable VirtualMedia found under the System or under its Manager.
type redfishDriver struct {
	cfg      Config
	endpoint string            // the service's scheme://host
	client   *gofish.APIClient // nil until Open
	sysURI   string
	auth     string // session or basic, once open
	vendor   string // the service root's Vendor, else the system's Manufacturer
	fallbacks
}

var (
	_ PowerStater      = (*redfishDriver)(nil)
	_ PowerOner        = (*redfishDriver)(nil)
	_ PowerOffer       = (*redfishDriver)(nil)
	_ PowerCycler      = (*redfishDriver)(nil)
	_ BootDeviceSetter = (*redfishDriver)(nil)
	_ MediaInserter    = (*redfishDriver)(nil)
	_ Prober           = (*redfishDriver)(nil)
)

// newRedfish takes the BMC's URL, or a system's URL that names the system (then SystemID, if
// given, must name the same one).
func newRedfish(c Config) (*redfishDriver, error) {
	endpoint, id, err := splitRedfishAddress(c.Address)
	if err != nil {
		return nil, err
	}
	if id != "" {
		if c.SystemID != "" && c.SystemID != id && c.SystemID != "/redfish/v1/Systems/"+id {
			return nil, fmt.Errorf("%w: redfish address %q names system %q, systemID says %q", ErrInvalid, c.Address, id, c.SystemID)
		}
		c.SystemID = id
	}
	switch c.Auth {
	case "", "session", "basic":
	default:
		return nil, fmt.Errorf("%w: redfish auth %q: want session or basic", ErrInvalid, c.Auth)
	}
	return &redfishDriver{cfg: c, endpoint: endpoint}, nil
}

func (d *redfishDriver) Name() string { return DriverRedfish }

// Open logs in (a session, or basic auth when asked or when the BMC has no sessions) and finds
// the system.
func (d *redfishDriver) Open(ctx context.Context) error {
	endpoint := d.endpoint
	cc := gofish.ClientConfig{
		Endpoint:   endpoint,
		Username:   d.cfg.Username,
		Password:   d.cfg.Password,
		Insecure:   d.cfg.Insecure,
		BasicAuth:  d.cfg.Auth == "basic",
		HTTPClient: d.httpClient(),
	}
	client, err := gofish.ConnectContext(ctx, cc)
	if err != nil && !cc.BasicAuth && d.cfg.Auth == "" && noSessions(err) {
		cc.BasicAuth = true
		cc.HTTPClient = d.httpClient()
		client, err = gofish.ConnectContext(ctx, cc)
		if err == nil {
			d.take(fallbackBasicAuth, "the BMC has no session service: basic auth on every request")
		}
	}
	if err != nil {
		return fmt.Errorf("log in to %s as %q: %w", endpoint, d.cfg.Username, redfishErr(err))
	}
	d.client = client
	d.auth = "session"
	if cc.BasicAuth {
		d.auth = "basic"
	}
	sys, err := d.findSystem(ctx)
	if err != nil {
		d.client.Logout()
		d.client = nil
		return err
	}
	d.sysURI = sys.ODataID
	d.vendor = client.Service.Vendor
	if d.vendor == "" {
		d.vendor = sys.Manufacturer
	}
	return nil
}

func (d *redfishDriver) httpClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: d.cfg.Insecure} //nolint:gosec // explicit per-BMC option
	return &http.Client{Transport: tr, Timeout: d.cfg.Timeout}                                         // also bounds the logout in Close
}

// noSessions tells a BMC without a session service (404/405 on the sessions collection, or
// no link to it) from a refused login.
func noSessions(err error) bool {
	var re *schemas.Error
	if errors.As(err, &re) {
		return re.HTTPReturnedStatusCode == http.StatusNotFound || re.HTTPReturnedStatusCode == http.StatusMethodNotAllowed
	}
	return strings.Contains(err.Error(), "no target provided")
}

// redfishErr marks what an error answer says about retrying: authentication, not-found and
// invalid-request answers are permanent; 503 and 429 say nothing was done. Other answers (a
// 500 above all) are left as they are: the request may have been carried out.
func redfishErr(err error) error {
	var re *schemas.Error
	if errors.As(err, &re) {
		switch re.HTTPReturnedStatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w: HTTP %d", ErrAuth, re.HTTPReturnedStatusCode)
		case http.StatusNotFound:
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		case http.StatusBadRequest, http.StatusMethodNotAllowed, http.StatusNotImplemented:
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		case http.StatusServiceUnavailable, http.StatusTooManyRequests:
			return notSent(err)
		}
	}
	return err
}

func (d *redfishDriver) Close() error {
	if d.client != nil {
		d.client.Logout()
		d.client = nil
	}
	return nil
}

// api is the client bound to this operation's context.
func (d *redfishDriver) api(ctx context.Context) (*gofish.APIClient, error) {
	if d.client == nil {
		return nil, errors.New("not connected")
	}
	return d.client.WithContext(ctx), nil
}

func (d *redfishDriver) findSystem(ctx context.Context) (*schemas.ComputerSystem, error) {
	api, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	// Read the collection directly first: gofish folds member errors into one text, and a
	// refused basic-auth login must come back as a 401 here.
	resp, err := api.Get("/redfish/v1/Systems")
	if err != nil {
		return nil, fmt.Errorf("list systems: %w", redfishErr(err))
	}
	_ = schemas.CleanupHTTPResponse(resp)
	systems, err := api.Service.Systems()
	if err != nil {
		return nil, fmt.Errorf("list systems: %w", redfishErr(err))
	}
	var ids []string
	var byName []*schemas.ComputerSystem
	want := strings.TrimSuffix(d.cfg.SystemID, "/")
	for _, s := range systems {
		if want != "" && (s.ID == want || strings.TrimSuffix(s.ODataID, "/") == want) {
			return s, nil
		}
		if want != "" && s.Name == want {
			byName = append(byName, s)
		}
		ids = append(ids, s.ID)
	}
	switch {
	case len(byName) == 1:
		return byName[0], nil
	case len(byName) > 1:
		return nil, fmt.Errorf("%w: system %q: %d systems have that name; give the Id, one of %v", ErrInvalid, want, len(byName), ids)
	case d.cfg.SystemID != "":
		return nil, fmt.Errorf("%w: system %q: the BMC has %v (matched against Id, Name and @odata.id)", ErrNotFound, d.cfg.SystemID, ids)
	case len(systems) == 1:
		return systems[0], nil
	case len(systems) == 0:
		return nil, fmt.Errorf("%w: the BMC lists no systems", ErrNotFound)
	default:
		return nil, fmt.Errorf("%w: the BMC has %d systems %v: set systemID", ErrInvalid, len(systems), ids)
	}
}

// system reads the system afresh (state, ETag, allowable values).
func (d *redfishDriver) system(ctx context.Context) (*schemas.ComputerSystem, error) {
	api, err := d.api(ctx)
	if err != nil {
		return nil, err
	}
	sys, err := schemas.GetComputerSystem(api, d.sysURI)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", d.sysURI, redfishErr(err))
	}
	return sys, nil
}

func (d *redfishDriver) PowerState(ctx context.Context) (PowerState, error) {
	sys, err := d.system(ctx)
	if err != nil {
		return PowerUnknown, err
	}
	return redfishPower(sys.PowerState), nil
}

func redfishPower(p schemas.PowerState) PowerState {
	switch p {
	case schemas.OnPowerState, schemas.PoweringOffPowerState, schemas.PausedPowerState:
		return PowerOn
	case schemas.OffPowerState, schemas.PoweringOnPowerState:
		return PowerOff
	}
	return PowerUnknown
}

// PowerOn sends On (or ForceOn, or a push of the power button) to a node that is off. A node
// already powering on is left alone: a second push of the button would turn it off again.
func (d *redfishDriver) PowerOn(ctx context.Context) error {
	sys, err := d.system(ctx)
	if err != nil || redfishPower(sys.PowerState) == PowerOn || sys.PowerState == schemas.PoweringOnPowerState {
		return err
	}
	return d.reset(sys, schemas.OnResetType, schemas.ForceOnResetType, schemas.PushPowerButtonResetType)
}

// PowerOff forces a node off, or asks it to shut down; a node already shutting down is left to
// it, unless the power is to be forced off.
func (d *redfishDriver) PowerOff(ctx context.Context, force bool) error {
	sys, err := d.system(ctx)
	if err != nil || redfishPower(sys.PowerState) == PowerOff || (!force && sys.PowerState == schemas.PoweringOffPowerState) {
		return err
	}
	if force {
		return d.reset(sys, schemas.ForceOffResetType)
	}
	return d.reset(sys, schemas.GracefulShutdownResetType, schemas.PushPowerButtonResetType)
}

func (d *redfishDriver) PowerCycle(ctx context.Context) error {
	sys, err := d.system(ctx)
	if err != nil {
		return notSent(err)
	}
	if redfishPower(sys.PowerState) == PowerOff {
		return d.reset(sys, schemas.OnResetType, schemas.ForceOnResetType, schemas.PushPowerButtonResetType)
	}
	err = d.reset(sys, schemas.PowerCycleResetType, schemas.ForceRestartResetType, schemas.GracefulRestartResetType)
	if !errors.Is(err, ErrNotSupported) {
		return err
	}
	// Neither a cycle nor a restart: off, then on.
	if err := d.reset(sys, schemas.ForceOffResetType); err != nil {
		return err
	}
	return d.reset(sys, schemas.OnResetType, schemas.ForceOnResetType)
}

// reset posts ComputerSystem.Reset with the first of the wanted types the system allows (any of
// them when it does not say).
func (d *redfishDriver) reset(sys *schemas.ComputerSystem, want ...schemas.ResetType) error {
	allowed, err := sys.GetSupportedResetTypes()
	if err != nil {
		return fmt.Errorf("reset types: %w", redfishErr(err))
	}
	rt, ok := pick(allowed, want)
	if !ok {
		return fmt.Errorf("%w: reset types %v, the system allows %v", ErrNotSupported, want, allowed)
	}
	if _, err := sys.Reset(rt); err != nil {
		return fmt.Errorf("reset %s: %w", rt, redfishErr(err))
	}
	return nil
}

func pick[T comparable](allowed, want []T) (T, bool) {
	if len(allowed) == 0 && len(want) > 0 {
		return want[0], true
	}
	for _, w := range want {
		for _, a := range allowed {
			if a == w {
				return w, true
			}
		}
	}
	var zero T
	return zero, false
}
