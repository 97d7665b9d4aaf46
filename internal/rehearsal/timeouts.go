package rehearsal

import (
	"reflect"
	"time"

	"github.com/cn2-appliance/cn2-appliance/pkg/config"
)

// minTimeout is the shortest flow timeout a rehearsal runs with: below it the real-time parts
// of the rehearsal (network boots, BMC retries, the flow's polling) would outlast it.
const minTimeout = 10 * time.Second

// scaleTimeouts shortens every duration in the lab's installer timeouts by the time scale, as
// the simulated install is shortened, so that the flow's stall remedies come in seconds. They
// all scale by one factor, which keeps their proportions: scale, or more if that would bring
// the shortest below minTimeout (and never beyond their real length). Every Duration field
// scales, whatever its name.
func scaleTimeouts(t *config.Timeouts, scale float64) {
	v := reflect.ValueOf(t).Elem()
	var fields []reflect.Value
	shortest := time.Duration(0)
	for i := range v.NumField() {
		f := v.Field(i)
		if !f.CanSet() || (f.Type() != reflect.TypeFor[config.Duration]() && f.Type() != reflect.TypeFor[time.Duration]()) {
			continue
		}
		d := time.Duration(f.Int())
		if d <= 0 {
			continue
		}
		fields = append(fields, f)
		if shortest == 0 || d < shortest {
			shortest = d
		}
	}
	if shortest == 0 {
		return
	}
	factor := max(scale, float64(minTimeout)/float64(shortest))
	if factor >= 1 {
		return
	}
	for _, f := range fields {
		f.SetInt(int64(float64(f.Int()) * factor))
	}
}
