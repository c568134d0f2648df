package manifest

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
)

// Issue 17.5: one truncated, altered or planted manifest must not hide
// the others; each is named with what is wrong with it.
func TestListValidSkipsDamaged(t *testing.T) {
	s, err := chunkstore.Init(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var names []string
	for i := range 4 {
		m := testManifest()
		m.Time = m.Time.Add(time.Duration(i) * time.Hour)
		m.Name = Name("db", m.Time)
		if err := Save(s, m); err != nil {
			t.Fatal(err)
		}
		names = append(names, m.Name)
	}
	path := func(n string) string { return s.Path(Dir + "/" + n) }
	b, err := os.ReadFile(path(names[1]))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path(names[1]), b[:len(b)/2], 0o644); err != nil { // truncated
		t.Fatal(err)
	}
	b[10] ^= 0x20 // altered
	if err := os.WriteFile(path(names[3]), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path("planted"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	if _, err := List(s); err == nil {
		t.Error("List passes damaged manifests")
	}
	list, damaged, err := ListValid(s)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range list {
		got = append(got, m.Name)
	}
	if want := []string{names[0], names[2]}; !slices.Equal(got, want) {
		t.Errorf("valid %v, want %v", got, want)
	}
	bad := map[string]*DamagedError{}
	for _, d := range damaged {
		bad[d.Name] = d
	}
	for _, n := range []string{names[1], names[3]} {
		d := bad[n]
		if d == nil || !errors.Is(d, ErrInvalid) {
			t.Errorf("%s: damaged %v, want ErrInvalid", n, d)
			continue
		}
		if kind, _, ok := d.Kind(); !ok || kind != "db" {
			t.Errorf("%s: kind %q %v", n, kind, ok)
		}
	}
	if d := bad["planted"]; d == nil {
		t.Error("a planted file is not reported")
	} else if _, _, ok := d.Kind(); ok {
		t.Error("a planted file has a kind")
	}
	if len(damaged) != 3 {
		t.Errorf("damaged %v", damaged)
	}
	for _, d := range damaged {
		if !errors.Is(d, ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", d.Name, d)
		}
	}
	// A planted file does not stop a snapshot being found by name.
	if got, err := Resolve(s, names[0][:len(names[0])-2]); err != nil || got != names[0] {
		t.Errorf("Resolve: %q, %v", got, err)
	}
}
