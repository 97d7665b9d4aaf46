package ai

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/ignition/v2/config/v3_2"
	"github.com/coreos/ignition/v2/config/v3_2/types"
)

// IgnitionVersion is the Ignition spec of the overrides built here; the service parses
// overrides as 3.2, then 3.1, and refuses other versions.
const IgnitionVersion = "3.2.0"

// CAPatchScript is the certificate-patch script (see ca-patch.sh) installed by CAPatch.
//
//go:embed ca-patch.sh
var CAPatchScript string

// CA patch unit and script paths.
const (
	CAPatchUnitName   = "ca-patch.service"
	CAPatchScriptPath = "/usr/local/bin/ca-patch.sh"
)

// CAPatch is the CN2 "extended API server certificate" patch as an Ignition config: a
// oneshot ca-patch.service in multi-user.target running CAPatchScript from
// /usr/local/bin/ca-patch.sh (mode 0755; the published 720 decimal lacks owner read).
func CAPatch() types.Config {
	unit := "[Unit]\nDescription=CN2: add the aggregator CA to extension-apiserver-authentication\n" +
		"After=network-online.target\nWants=network-online.target\n\n" +
		"[Service]\nType=oneshot\nExecStart=" + CAPatchScriptPath + "\nRemainAfterExit=yes\n\n" +
		"[Install]\nWantedBy=multi-user.target\n"
	src := "data:text/plain;charset=utf-8;base64," + base64.StdEncoding.EncodeToString([]byte(CAPatchScript))
	mode := 0o755
	overwrite := true
	enabled := true
	return types.Config{
		Ignition: types.Ignition{Version: IgnitionVersion},
		Systemd: types.Systemd{Units: []types.Unit{{
			Name: CAPatchUnitName, Enabled: &enabled, Contents: &unit,
		}}},
		Storage: types.Storage{Files: []types.File{{
			Node: types.Node{Path: CAPatchScriptPath, Overwrite: &overwrite},
			FileEmbedded1: types.FileEmbedded1{
				Mode:     &mode,
				Contents: types.Resource{Source: &src},
			},
		}}},
	}
}

// ParseIgnition parses a user-supplied Ignition fragment of spec 3.0 to 3.2 (translated to
// 3.2). Newer specs are refused: the service would not accept them.
func ParseIgnition(raw []byte) (types.Config, error) {
	cfg, rpt, err := v3_2.ParseCompatibleVersion(raw)
	if err != nil {
		detail := strings.TrimSpace(rpt.String())
		if detail != "" {
			return types.Config{}, fmt.Errorf("ai: ignition fragment: %w: %s", err, detail)
		}
		return types.Config{}, fmt.Errorf("ai: ignition fragment (spec 3.0-3.2 only): %w", err)
	}
	return cfg, nil
}

// IgnitionOverride merges configs in order (later ones win where Ignition's merge rules say
// so, e.g. the same file path), validates the result with Ignition's own validation, and
// returns the JSON text for infra-env ignition_config_override.
func IgnitionOverride(configs ...types.Config) (string, error) {
	if len(configs) == 0 {
		return "", errors.New("ai: ignition override: nothing to merge")
	}
	out := types.Config{Ignition: types.Ignition{Version: IgnitionVersion}}
	for _, c := range configs {
		c.Ignition.Version = IgnitionVersion
		out = v3_2.Merge(out, c)
	}
	raw, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("ai: ignition override: %w", err)
	}
	// Parse runs Ignition's validation (paths, modes, units, data URLs...).
	if _, rpt, err := v3_2.Parse(raw); err != nil {
		return "", fmt.Errorf("ai: ignition override is invalid: %w: %s", err, strings.TrimSpace(rpt.String()))
	}
	return string(raw), nil
}

// BuildIgnitionOverride is the usual recipe: the CA patch (when caPatch) plus the user's
// fragments (raw Ignition JSON, spec 3.0-3.2), validated, as override text.
func BuildIgnitionOverride(caPatch bool, fragments ...[]byte) (string, error) {
	var cfgs []types.Config
	if caPatch {
		cfgs = append(cfgs, CAPatch())
	}
	for i, f := range fragments {
		c, err := ParseIgnition(f)
		if err != nil {
			return "", fmt.Errorf("fragment %d: %w", i+1, err)
		}
		cfgs = append(cfgs, c)
	}
	return IgnitionOverride(cfgs...)
}
