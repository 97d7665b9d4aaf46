package appliance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
	"github.com/cn2-appliance/cn2-appliance/pkg/flow"
	"github.com/cn2-appliance/cn2-appliance/pkg/pxe"
	"github.com/cn2-appliance/cn2-appliance/pkg/store"
)

// profilesOnly is the boot service of an appliance that is not running: it sets boot profiles
// in the store and empties the boot cache folder, and refuses the rest.
type profilesOnly struct {
	p        *pxe.Profiles
	cacheDir string
}

// offlineBoot is the boot service of the stopped appliance whose store is st.
func offlineBoot(st *store.Store) profilesOnly {
	return profilesOnly{p: pxe.NewProfiles(st), cacheDir: filepath.Join(filepath.Dir(st.Path()), BootCacheDir)}
}

func (b profilesOnly) InvalidateBootCache() error { return pxe.InvalidateCache(b.cacheDir) }

func (b profilesOnly) SetProfile(mac, profile string) error {
	return setProfile(b.p, mac, profile, "reprovision")
}

func (profilesOnly) CacheIPXEArtifacts(context.Context, string, []byte) error {
	return errors.New("the boot cache is filled by the running appliance")
}

func (profilesOnly) CacheISO(context.Context, string, string) (string, error) {
	return "", errors.New("the boot cache is filled by the running appliance")
}

// Reprovision tears down the lab's install (installer objects, node power, boot profiles,
// flow progress) so that the next `serve` installs from scratch with the lab file as it is
// now. It needs the state folder to itself: the appliance must be stopped.
func Reprovision(ctx context.Context, lab *config.Lab, st *store.Store, log *slog.Logger, opts Options) error {
	ai, err := newAIClient(lab, opts.AIHTTPClient, nil, log)
	if err != nil {
		return err
	}
	power, err := powerDriversOffline(lab, log, opts)
	if err != nil {
		return err
	}
	f, err := flow.New(flow.Deps{Lab: lab, AI: ai, Power: power, Boot: offlineBoot(st), Store: st, Log: log})
	if err != nil {
		return err
	}
	if err := f.Reprovision(ctx); err != nil {
		return err
	}
	if err := st.DeleteDoc(docKindLab, docNeedsReprovision); err != nil {
		return fmt.Errorf("reprovision: %w", err)
	}
	_, _ = st.AppendEvent(store.Event{Level: "warn", Source: "appliance", Message: "reprovisioned: the next start installs " + lab.Zone() + " from scratch"})
	return nil
}
