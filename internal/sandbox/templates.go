package sandbox

import "github.com/paddockhq/paddock/internal/image"

// Templates opens the template cache, with the binary's fetcher, and knowing which sandboxes use
// a template (their spec names it), so that it refuses to remove one in use.
func (m *Manager) Templates() (*image.Store, error) {
	st, err := image.Open(m.Store.Root)
	if err != nil {
		return nil, err
	}
	st.Fetcher = m.Fetcher
	st.InUse = func(ref string) ([]string, error) {
		recs, _, err := m.Store.List()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, r := range recs {
			if r.Spec.Template == "" || r.Spec.Template == "host" {
				continue
			}
			if full, err := image.Normalize(r.Spec.Template); err == nil && full == ref {
				names = append(names, r.Name)
			}
		}
		return names, nil
	}
	return st, nil
}
