package offsite_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/offsite"
	"github.com/pocketsnap/pocketsnap/remote"
)

// Issue 19 (and 17.8): reading the bucket's repository is offsite's, not
// the CLI's. An empty bucket is named as such; on the device that pushed
// it, the device's secrets open it without the identity, its newest
// snapshots are told, a snapshot deleted from the bucket since the push
// is a POSSIBLE ROLLBACK, and the device's push record indexes it; any
// other device needs the identity, and a wrong one is refused.
func TestOpenTheBucketsRepository(t *testing.T) {
	f := newFixture(t)
	b := f.bucket(t, remote.Options{})
	noIdentity := func() ([]age.Identity, error) { return nil, errors.New("the identity was asked for") }
	var nr *offsite.NoRepositoryError
	if _, err := offsite.Open(t.Context(), b, offsite.OpenOptions{Local: f.repo.Dir, Identities: noIdentity}); !errors.As(err, &nr) || !strings.Contains(err.Error(), "holds no repository yet") {
		t.Fatalf("Open of an empty bucket = %v", err)
	}

	names, b := f.pushedDays(t, t.TempDir(), 2, 4<<10)
	var warned []string
	warn := func(msg string) { warned = append(warned, msg) }
	o, err := offsite.Open(t.Context(), b, offsite.OpenOptions{Local: f.repo.Dir, Identities: noIdentity, Warn: warn})
	if err != nil {
		t.Fatalf("Open on the device: %v", err)
	}
	if o.Newest["db"] != names[1] || len(warned) != 0 {
		t.Errorf("newest %v, warned %q; want %s and no warning", o.Newest, warned, names[1])
	}
	if _, err := manifest.Load(o.Store, names[1]); err != nil {
		t.Errorf("the device's secrets do not authenticate %s: %v", names[1], err)
	}
	ix, err := offsite.PushedIndex(f.repo.Dir, o.Store)
	if err != nil || ix == nil {
		t.Errorf("PushedIndex on the device = %v, %v", ix, err)
	}
	if ix, err := offsite.PushedIndex(filepath.Join(t.TempDir(), "none"), o.Store); ix != nil || err != nil {
		t.Errorf("PushedIndex without a local repository = %v, %v; want nil", ix, err)
	}
	o.Close()

	// The push's record, as job.Push keeps it.
	s := f.repo.Open(t, false)
	if err := offsite.SaveRecord(s, offsite.PushRecord{Time: time.Now().UTC(), Newest: map[string]string{"db": names[1]}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Remove(t.Context(), manifest.Dir+"/"+names[1]); err != nil {
		t.Fatal(err)
	}
	o, err = offsite.Open(t.Context(), b, offsite.OpenOptions{Local: f.repo.Dir, Identities: noIdentity, Warn: warn})
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	if len(warned) != 1 || !strings.HasPrefix(warned[0], "POSSIBLE ROLLBACK: ") || !strings.Contains(warned[0], names[1]) {
		t.Errorf("a snapshot deleted from the bucket: warned %q", warned)
	}

	other := filepath.Join(t.TempDir(), "none")
	if _, err := offsite.Open(t.Context(), b, offsite.OpenOptions{Local: other, Identities: noIdentity}); err == nil || !strings.Contains(err.Error(), "the identity was asked for") {
		t.Errorf("Open on another device without the identity = %v", err)
	}
	o, err = offsite.Open(t.Context(), b, offsite.OpenOptions{Local: other, Identities: func() ([]age.Identity, error) {
		return []age.Identity{f.repo.Identity}, nil
	}})
	if err != nil {
		t.Fatalf("Open on another device with the identity: %v", err)
	}
	defer o.Close()
	if o.Newest["db"] != names[0] {
		t.Errorf("newest %v after the deletion, want %s", o.Newest, names[0])
	}
	if _, err := manifest.Load(o.Store, names[0]); err != nil {
		t.Errorf("the identity does not authenticate %s: %v", names[0], err)
	}
	wrong, _ := age.GenerateX25519Identity()
	w, err := offsite.Open(t.Context(), b, offsite.OpenOptions{Local: other, Identities: func() ([]age.Identity, error) {
		return []age.Identity{wrong}, nil
	}})
	if err == nil {
		defer w.Close()
		_, err = manifest.Load(w.Store, names[0])
	}
	if err == nil {
		t.Error("a wrong identity reads the bucket's repository")
	}
}
