package config

import (
	"slices"

	"github.com/pocketsnap/pocketsnap/prootdistro"
)

// Shown is one key as `pocketsnap config` shows it.
type Shown struct {
	Key string `json:"key"`
	// Value is the value, "(unset)" when empty, and only "(set)" for a
	// secret that is set.
	Value string `json:"value"`
	// Source is "default", the env file's path, "environment" or a flag;
	// for ROOTFS_DIR's default, also the proot-distro layout it found.
	Source string `json:"source"`
}

// Shown lists every key of Keys with its value and source, in the table's
// order: of a family, the members that are set (once each); the secrets
// file's keys only when that file exists. A secret's value never appears.
func (c *Config) Shown() []Shown {
	var out []Shown
	for _, k := range Keys {
		names := []string{k.Name}
		switch {
		case k.Family():
			names = slices.DeleteFunc(c.Members(k.Name), func(n string) bool {
				return !c.IsSet(n) || slices.ContainsFunc(out, func(v Shown) bool { return v.Key == n })
			})
		case k.From&FromSecrets != 0 && !c.HasSecrets():
			names = nil
		}
		for _, n := range names {
			v := c.Value(n)
			switch {
			case v == "":
				v = "(unset)"
			case k.Secret && c.IsSet(n):
				v = "(set)"
			}
			src := c.Source(n)
			if n == "ROOTFS_DIR" && !c.IsSet(n) {
				_, layout := prootdistro.Rootfs(c.Value("PREFIX"), "debian")
				src += ", " + string(layout)
			}
			out = append(out, Shown{Key: n, Value: v, Source: src})
		}
	}
	return out
}
