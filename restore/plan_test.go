package restore_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/internal/repotest"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/restore"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Issue 19.1: the whole-system restore is planned, previewed, carried out
// and rolled back through the library, with no front end: the rootfs
// first, then the db inside it (moved aside beside the rootfs), and a
// rollback takes back the kind restored last. With no stop command, both
// refuse unless told the services are stopped already.
func TestPlanRunAndRollBack(t *testing.T) {
	r := repotest.New(t, false)
	src := t.TempDir()
	write(t, filepath.Join(src, "rootfs", "etc", "hostname"), "snap\n")
	write(t, filepath.Join(src, "db", "data"), "db snap\n")
	rootfsSnap := r.Backup(t, restore.KindRootfs, filepath.Join(src, "rootfs"), nil).Manifest
	dbSnap := r.Backup(t, restore.KindDB, filepath.Join(src, "db"), nil).Manifest

	live := restore.Live{Rootfs: filepath.Join(t.TempDir(), "rootfs")}
	live.DB = filepath.Join(live.Rootfs, "var", "db")
	write(t, filepath.Join(live.Rootfs, "etc", "hostname"), "live\n")
	write(t, filepath.Join(live.DB, "data"), "live db\n")
	s := r.Open(t, true)

	sys, skipped, err := restore.Plan(s, live, restore.Want{}, time.Now())
	if err != nil || len(skipped) != 0 {
		t.Fatalf("Plan: %v (skipped %v)", err, skipped)
	}
	pv, err := sys.Preview()
	if err != nil {
		t.Fatal(err)
	}
	if len(pv.Steps) != 2 || pv.Steps[0].Source != rootfsSnap.Name || pv.Steps[1].Source != dbSnap.Name {
		t.Fatalf("plan steps %+v, want %s then %s", pv.Steps, rootfsSnap.Name, dbSnap.Name)
	}
	if pv.Need != rootfsSnap.StreamSize+dbSnap.StreamSize || pv.Free <= 0 || pv.Fits() != nil {
		t.Fatalf("preview needs %d of %d free (fits: %v), want %d", pv.Need, pv.Free, pv.Fits(), rootfsSnap.StreamSize+dbSnap.StreamSize)
	}
	for i, base := range []string{live.Rootfs, live.Rootfs + ".db"} {
		if want := restore.BrokenPath(base, sys.Now.Format(manifest.StampLayout)); pv.Steps[i].MovedAside != want {
			t.Errorf("step %d moves the live target aside to %q, want %q", i, pv.Steps[i].MovedAside, want)
		}
	}
	sys.Options, sys.Log = asRoot, io.Discard
	if err := sys.Run(t.Context()); !errors.Is(err, restore.ErrNoStop) {
		t.Fatalf("Run with no stop command: %v, want ErrNoStop", err)
	}
	if _, err := (&restore.System{Log: io.Discard}).Rollback(t.Context(), live, ""); !errors.Is(err, restore.ErrNoStop) {
		t.Fatalf("Rollback with no stop command: %v, want ErrNoStop", err)
	}
	if got := read(t, filepath.Join(live.Rootfs, "etc", "hostname")); got != "live\n" {
		t.Fatalf("the refused restore changed the rootfs: %q", got)
	}
	sys.AlreadyStopped = true
	if err := sys.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(live.Rootfs, "etc", "hostname")); got != "snap\n" {
		t.Errorf("rootfs after restore: %q", got)
	}
	if got := read(t, filepath.Join(live.DB, "data")); got != "db snap\n" {
		t.Errorf("db after restore: %q", got)
	}
	asides, err := restore.Asides(live.AsideBases()...)
	if err != nil || len(asides) != 1 {
		t.Fatalf("moved aside: %v, %v; want the live rootfs only (the live db is inside it)", asides, err)
	}

	// The db alone, a second later: its rollback comes first.
	time.Sleep(time.Second)
	dbOnly, _, err := restore.Plan(s, live, restore.Want{Only: restore.KindDB}, time.Now())
	if err != nil || len(dbOnly.Steps) != 1 || dbOnly.Steps[0].Kind != restore.KindDB {
		t.Fatalf("Plan of the db only: %v, %+v", err, dbOnly)
	}
	write(t, filepath.Join(live.DB, "data"), "changed db\n")
	dbOnly.Options, dbOnly.Log, dbOnly.AlreadyStopped = asRoot, io.Discard, true
	if err := dbOnly.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	rb := &restore.System{Log: io.Discard, AlreadyStopped: true}
	res, err := rb.Rollback(t.Context(), live, "")
	if err != nil || res.Target != live.DB {
		t.Fatalf("first rollback: %+v, %v; want the db, restored last", res, err)
	}
	if got := read(t, filepath.Join(live.DB, "data")); got != "changed db\n" {
		t.Errorf("db after its rollback: %q", got)
	}
	res, err = rb.Rollback(t.Context(), live, restore.KindRootfs)
	if err != nil || res.Target != live.Rootfs {
		t.Fatalf("rollback of the rootfs: %+v, %v", res, err)
	}
	if got := read(t, filepath.Join(live.Rootfs, "etc", "hostname")); got != "live\n" {
		t.Errorf("rootfs after its rollback: %q", got)
	}
	if got := read(t, filepath.Join(live.DB, "data")); got != "live db\n" {
		t.Errorf("db after the rootfs's rollback: %q, want the db as it was before any restore", got)
	}
}

// Issue 19.1: a snapshot named for the wrong kind is refused by name, and
// a plan that needs more space than is free says how much.
func TestPlanRefuses(t *testing.T) {
	r := repotest.New(t, false)
	src := t.TempDir()
	write(t, filepath.Join(src, "f"), "x")
	snap := r.Backup(t, restore.KindRootfs, src, nil).Manifest
	live := restore.Live{Rootfs: filepath.Join(t.TempDir(), "rootfs"), DB: filepath.Join(t.TempDir(), "db")}
	_, _, err := restore.Plan(r.Open(t, true), live, restore.Want{DB: snap.Name, Only: restore.KindDB}, time.Now())
	var wk *restore.WrongKindError
	if !errors.As(err, &wk) || wk.Name != snap.Name || wk.Kind != restore.KindRootfs {
		t.Fatalf("Plan with a rootfs snapshot as --db: %v, want a WrongKindError naming %s", err, snap.Name)
	}
	_, _, err = restore.Plan(r.Open(t, true), live, restore.Want{}, time.Now())
	if err == nil {
		t.Fatal("Plan with no db snapshot succeeded")
	}
	var se *restore.SpaceError
	if err := (restore.Preview{Need: 2 << 30, Free: 1 << 30}).Fits(); !errors.As(err, &se) ||
		err.Error() != "not enough free space: the restore needs about 2.0 GiB, 1.0 GiB is available" {
		t.Fatalf("Fits: %v", err)
	}
}
