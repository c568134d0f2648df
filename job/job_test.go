package job

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/conditions"
	"github.com/pocketsnap/pocketsnap/hooks"
	"github.com/pocketsnap/pocketsnap/manifest"
	"github.com/pocketsnap/pocketsnap/pipeline"
	"github.com/pocketsnap/pocketsnap/prune"
	"github.com/pocketsnap/pocketsnap/remote"
	"github.com/pocketsnap/pocketsnap/retention"
)

// recorder is a Reporter that keeps every message, prefixed with its
// level's number.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Report(level Level, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf("%d %s", level, msg))
}

func (r *recorder) Progress(string, string, int64, *pipeline.Progress) func() { return func() {} }

// has reports whether a message of level contains part.
func (r *recorder) has(level Level, part string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		if strings.HasPrefix(m, fmt.Sprintf("%d ", level)) && strings.Contains(m, part) {
			return true
		}
	}
	return false
}

func hook(t *testing.T, key, cmd string) hooks.Command {
	t.Helper()
	c, err := hooks.Parse(key, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newRepo returns an unencrypted repository and a source directory with
// a file in it.
func newRepo(t *testing.T) (s *chunkstore.Store, src string) {
	t.Helper()
	dir := t.TempDir()
	src = filepath.Join(dir, "notes")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "n.txt"), []byte("a note"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := chunkstore.Init(filepath.Join(dir, "repo"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, src
}

// Issue 19.1: job.Backup, called as a library, stops the kind's service,
// stages its directory, starts it again, saves the snapshot (Saved sees
// it before retention), then applies the rotation under its lock; the
// second backup's rotation deletes the first snapshot, and LastSuccess
// tells both jobs' last success from the repository.
func TestBackupStagesAndRotates(t *testing.T) {
	s, src := newRepo(t)
	dir := filepath.Dir(src)
	started := filepath.Join(dir, "started")
	r := &recorder{}
	opt := BackupOptions{
		Kind: "notes", Source: src, Tool: "test", HookTimeout: time.Minute,
		Service:  Service{Stop: hook(t, "NOTES_STOP_CMD", "true"), Start: hook(t, "NOTES_START_CMD", "touch "+started)},
		Rotation: &prune.Options{Policy: func(string) retention.Policy { return retention.Policy{Last: 1} }},
	}
	var saved []string
	opt.Saved = func(res *BackupResult) error {
		saved = append(saved, res.Manifest.Name)
		return nil
	}
	if last, err := LastSuccess(s, "notes"); err != nil || !last.IsZero() {
		t.Fatalf("LastSuccess before any backup = %v, %v", last, err)
	}
	first, err := Backup(t.Context(), s, opt, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(started); err != nil {
		t.Fatalf("NOTES_START_CMD did not run: %v", err)
	}
	if !r.has(Result, "notes service stopped for ") || first.Kind != "notes" || first.Source != src {
		t.Errorf("first backup: %+v, reported %q", first, r.msgs)
	}
	time.Sleep(time.Second) // snapshot names have whole seconds
	second, err := Backup(t.Context(), s, opt, r)
	if err != nil {
		t.Fatal(err)
	}
	names, err := manifest.Names(s)
	if err != nil || len(names) != 1 || names[0] != second.Manifest.Name {
		t.Fatalf("snapshots %v, %v: want only %s", names, err, second.Manifest.Name)
	}
	if len(saved) != 2 || saved[0] != first.Manifest.Name || !r.has(Info, "rotate: deleted 1 snapshots ("+first.Manifest.Name+")") {
		t.Errorf("saved %v, reported %q", saved, r.msgs)
	}
	// Issue 19.5: the daemon's question, by the repository's directory.
	if last, err := LastSuccessIn(s.Dir(), "notes"); err != nil || !last.Equal(second.Manifest.Time) {
		t.Errorf("LastSuccessIn(notes) = %v, %v, want the second backup's %v", last, err, second.Manifest.Time)
	}
	if last, err := LastSuccess(s, "notes"); err != nil || !last.Equal(second.Manifest.Time) {
		t.Errorf("LastSuccess = %v, %v, want %v", last, err, second.Manifest.Time)
	}
	if last, err := LastSuccess(s, "retention"); err != nil || last.IsZero() {
		t.Errorf("LastSuccess(retention) after a backup's rotation = %v, %v", last, err)
	}
}

// Issue 19.1: a failing start command fails the backup, names the
// service, and no snapshot is saved; a source that is not a directory is
// refused before the lock.
func TestBackupFailures(t *testing.T) {
	s, src := newRepo(t)
	opt := BackupOptions{
		Kind: "db", Source: src, HookTimeout: time.Minute,
		Service: Service{Stop: hook(t, "DB_STOP_CMD", "true"), Start: hook(t, "DB_START_CMD", "false")},
	}
	_, err := Backup(t.Context(), s, opt, &recorder{})
	if err == nil || !strings.Contains(err.Error(), "the database service may be down: DB_START_CMD (false) failed") || ClassOf(err) != Failed {
		t.Fatalf("Backup with a failing start command = %v (class %s)", err, ClassOf(err))
	}
	if names, _ := manifest.Names(s); len(names) != 0 {
		t.Errorf("snapshots %v saved by a failed backup", names)
	}
	opt.Source = filepath.Join(src, "n.txt")
	if _, err := Backup(t.Context(), s, opt, &recorder{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Backup of a file = %v", err)
	}
	held, err := s.Lock(true)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	opt.Source, opt.Service = src, Service{}
	if _, err := Backup(t.Context(), s, opt, &recorder{}); ClassOf(err) != Locked {
		t.Errorf("Backup of a held repository = %v (class %s), want class locked", err, ClassOf(err))
	}
}

// Issue 19.1: the classes the exit code and the heartbeat derive from,
// through wrapping.
func TestClassOf(t *testing.T) {
	for err, want := range map[error]Class{
		nil:                                     OK,
		errors.New("disk on fire"):              Failed,
		fmt.Errorf("backup: %w", ErrIncomplete): Incomplete,
		fmt.Errorf("push: %w", &DeferredError{Reason: "x"}):           Deferred,
		fmt.Errorf("open: %w", chunkstore.ErrNoIdentity):              Identity,
		fmt.Errorf("pack 1234: %w", chunkstore.ErrCorrupt):            Verify,
		fmt.Errorf("manifest: %w", manifest.ErrInvalid):               Verify,
		fmt.Errorf("lock: %w", &chunkstore.LockedError{}):             Locked,
		fmt.Errorf("read: %w", pipeline.ErrVerify):                    Verify,
		fmt.Errorf("blob: %w", chunkstore.ErrMissing):                 Verify,
		fmt.Errorf("open: %w", chunkstore.ErrWrongIdentity):           Identity,
		fmt.Errorf("repository: %w", chunkstore.ErrNotExist):          Failed,
		fmt.Errorf("stage: %w", context.Canceled):                     Failed,
		fmt.Errorf("fingerprint: %w", &chunkstore.FingerprintError{}): Verify,
	} {
		if got := ClassOf(err); got != want {
			t.Errorf("ClassOf(%v) = %s, want %s", err, got, want)
		}
	}
}

// Issue 19.1 and 19.4: without a repository, Rotate rotates the classic
// archives only: the oldest archive beyond the count goes, with its
// sidecar.
func TestRotateArchivesOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"db-20260101T000000Z.tar.zst", "db-20260101T000000Z.tar.zst.sha256", "db-20260102T000000Z.tar.zst", "db-20260102T000000Z.tar.zst.sha256"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noRepo := func() (*chunkstore.Store, error) { return nil, fmt.Errorf("/r: %w", chunkstore.ErrNotExist) }
	opt := RotateOptions{Open: noRepo, Options: prune.Options{BackupDir: filepath.Dir(dir), Policy: func(string) retention.Policy { return retention.Policy{Last: 1} }}}
	// Issue 19.4: a repack or a forget needs the repository: without
	// one they fail, and no archive is touched.
	for _, o := range []RotateOptions{{Open: noRepo, Options: prune.Options{BackupDir: opt.BackupDir, Policy: opt.Policy, Repack: true}},
		{Open: noRepo, Options: prune.Options{BackupDir: opt.BackupDir, Policy: opt.Policy, Forget: []string{"db-20260101T000000Z"}}}} {
		if rep, err := Rotate(t.Context(), o, &recorder{}); !errors.Is(err, chunkstore.ErrNotExist) || rep != nil {
			t.Fatalf("Rotate(repack %v, forget %v) without a repository = %+v, %v; want ErrNotExist", o.Repack, o.Forget, rep, err)
		}
	}
	r := &recorder{}
	rep, err := Rotate(t.Context(), opt, r)
	if err != nil {
		t.Fatal(err)
	}
	if !r.has(Info, "rotating classic archives only") {
		t.Errorf("reported %q, want it to say only the archives are rotated", r.msgs)
	}
	if len(rep.Archives) != 1 || rep.Archives[0].Name != "db-20260101T000000Z" {
		t.Fatalf("deleted %+v, want the older archive", rep.Archives)
	}
	if _, err := os.Stat(filepath.Join(dir, "db-20260101T000000Z.tar.zst.sha256")); !os.IsNotExist(err) {
		t.Errorf("the older archive's sidecar is left: %v", err)
	}
}

// Issue 19.1: a push whose obeyed conditions do not hold does not open
// the repository or dial the bucket, and returns a *DeferredError saying
// why; ignored, it warns and goes on (here to a repository that fails to
// open).
func TestPushDeferred(t *testing.T) {
	opened := false
	opt := PushOptions{
		Open:       func() (*chunkstore.Store, error) { opened = true; return nil, chunkstore.ErrNotExist },
		Dial:       func() (*remote.Bucket, error) { t.Fatal("dialled the bucket"); return nil, nil },
		Conditions: &conditions.Checker{Policy: conditions.Policy{WhenCmd: []string{"false"}, Power: conditions.PowerAny}},
		Obey:       true, WatchEvery: time.Second,
	}
	res, err := Push(t.Context(), opt, &recorder{})
	var de *DeferredError
	if !errors.As(err, &de) || ClassOf(err) != Deferred || res == nil || res.Deferred == "" || res.Deferred != de.Reason || opened {
		t.Fatalf("Push = %+v, %v (opened %v), want deferred before opening", res, err, opened)
	}
	r := &recorder{}
	opt.Obey = false
	if _, err := Push(t.Context(), opt, r); !errors.Is(err, chunkstore.ErrNotExist) || !opened || !r.has(Warning, "the daemon would not push now; pushing anyway") {
		t.Errorf("Push by hand = %v (opened %v), reported %q", err, opened, r.msgs)
	}
}

// Issue 19.5: without a repository a scheduled job has never succeeded;
// a repository that does not open is an error, not "never".
func TestLastSuccessIn(t *testing.T) {
	dir := t.TempDir()
	if last, err := LastSuccessIn(filepath.Join(dir, "none"), "db"); err != nil || !last.IsZero() {
		t.Errorf("LastSuccessIn(no repository) = %v, %v, want never", last, err)
	}
	broken := filepath.Join(dir, "broken")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(broken, "config"), []byte("not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if last, err := LastSuccessIn(broken, "db"); err == nil || errors.Is(err, chunkstore.ErrNotExist) {
		t.Errorf("LastSuccessIn(broken repository) = %v, %v, want an error", last, err)
	}
}

// Issue 20 (peak RSS at the end of a backup): the rotation does not run
// while the result still holds the saved snapshot's blob list, stream and
// file index: Saved sees them, the caller of Backup gets the name and
// counts only.
func TestBackupLetsGoOfTheBlobsBeforeTheRotation(t *testing.T) {
	s, src := newRepo(t)
	opt := BackupOptions{
		Kind: "notes", Source: src, Tool: "test",
		Rotation: &prune.Options{Policy: func(string) retention.Policy { return retention.Policy{Last: 1} }},
	}
	var blobs, pieces int
	opt.Saved = func(res *BackupResult) error {
		blobs, pieces = len(res.Manifest.Blobs), len(res.Details.Stream)
		return nil
	}
	res, err := Backup(t.Context(), s, opt, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	if blobs == 0 || pieces == 0 {
		t.Fatalf("Saved saw %d blobs and %d pieces", blobs, pieces)
	}
	if res.Manifest.Blobs != nil || res.Details.Stream != nil || res.Manifest.FileCount() != 0 {
		t.Errorf("after the rotation the result holds %d blobs, %d pieces, %d files", len(res.Manifest.Blobs), len(res.Details.Stream), res.Manifest.FileCount())
	}
	if res.Manifest.Name == "" || res.Details.Counts.Files != 1 {
		t.Errorf("the result lost its name or counts: %q, %+v", res.Manifest.Name, res.Details.Counts)
	}
}
