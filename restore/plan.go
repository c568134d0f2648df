package restore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/manifest"
)

// Kinds of snapshot a whole-system restore puts back, in the order it
// restores them: the db lies inside the rootfs.
const (
	KindRootfs = "rootfs"
	KindDB     = "db"
)

// Live names the live directories a whole-system restore replaces.
type Live struct {
	Rootfs, DB string
}

// Target returns the live directory of kind, and false for an unknown
// kind.
func (l Live) Target(kind string) (string, bool) {
	switch kind {
	case KindRootfs:
		return l.Rootfs, true
	case KindDB:
		return l.DB, true
	}
	return "", false
}

// Aside returns the base of the directories a restore of kind moves
// aside; see [AsideBase].
func (l Live) Aside(kind string) string {
	t, _ := l.Target(kind)
	return AsideBase(t, kind, l.Rootfs)
}

// AsideBases returns the bases of every directory that restores of the
// live directories move aside, with the db's older place (inside the
// rootfs), for listing them with [Asides].
func (l Live) AsideBases() []string {
	return []string{l.Rootfs, l.Aside(KindDB), l.DB}
}

// Want says which snapshots a whole-system restore takes.
type Want struct {
	// At chooses, for each kind not named, the newest complete snapshot
	// taken at or before it. Zero means the newest.
	At time.Time
	// Rootfs and DB name a snapshot of that kind (or a unique prefix of
	// its name).
	Rootfs, DB string
	// Only restricts the restore to one kind; "" restores both.
	Only string
}

// WrongKindError reports a snapshot named for a kind it is not.
type WrongKindError struct {
	Name, Kind, Want string
}

func (e *WrongKindError) Error() string {
	return fmt.Sprintf("snapshot %s is a %s snapshot, not a %s one", e.Name, e.Kind, e.Want)
}

// Plan chooses the snapshots of s and the live directories of a
// whole-system restore: the rootfs first, then the db inside it. Its Now
// is the first second from now on whose staging and moved-aside names
// are free. It also returns the snapshots passed over, with why, even
// when it fails. The caller sets the service commands, the extraction
// options and the log.
func Plan(s *chunkstore.Store, live Live, w Want, now time.Time) (*System, []manifest.Candidate, error) {
	at := w.At
	if at.IsZero() {
		at = now.Add(100 * 365 * 24 * time.Hour)
	}
	list, damaged, err := manifest.ListValid(s)
	if err != nil {
		return nil, nil, err
	}
	var skipped []manifest.Candidate
	sys := &System{}
	for _, k := range []struct{ kind, ref string }{{KindRootfs, w.Rootfs}, {KindDB, w.DB}} {
		if w.Only != "" && w.Only != k.kind {
			continue
		}
		m, sk, err := pick(s, list, damaged, k.kind, k.ref, at)
		skipped = append(skipped, sk...)
		if err != nil {
			return nil, skipped, err
		}
		target, _ := live.Target(k.kind)
		sys.Steps = append(sys.Steps, Step{
			Kind: k.kind, Target: target, Aside: live.Aside(k.kind), Size: m.StreamSize, Taken: m.Time,
			Source: Source{Store: s, Manifest: m},
		})
	}
	sys.Stamp(now)
	return sys, skipped, nil
}

// Stamp sets p.Now to the first second from now on whose staging and
// moved-aside names are free for every step, so that two restores within
// one second never collide.
func (p *System) Stamp(now time.Time) {
	var targets []string
	for _, st := range p.Steps {
		targets = append(targets, st.Target, st.aside())
	}
	p.Now = freeStamp(targets, now)
}

// pick returns the named snapshot, or the newest complete one of kind at
// or before at, passing over damaged manifests.
func pick(s *chunkstore.Store, list []*manifest.Manifest, damaged []*manifest.DamagedError, kind, ref string, at time.Time) (*manifest.Manifest, []manifest.Candidate, error) {
	if ref == "" {
		return manifest.SelectValid(list, damaged, kind, at)
	}
	name, err := manifest.Resolve(s, ref)
	if err != nil {
		return nil, nil, err
	}
	if i := slices.IndexFunc(list, func(m *manifest.Manifest) bool { return m.Name == name }); i >= 0 {
		if list[i].Kind != kind {
			return nil, nil, &WrongKindError{Name: name, Kind: list[i].Kind, Want: kind}
		}
		return list[i], nil, nil
	}
	if i := slices.IndexFunc(damaged, func(d *manifest.DamagedError) bool { return d.Name == name }); i >= 0 {
		return nil, nil, damaged[i]
	}
	return nil, nil, fmt.Errorf("snapshot %s not found", name)
}

// Preview is what a planned restore would do, for a front end to show.
type Preview struct {
	Steps []StepPreview
	// Need is the bytes the restore unpacks, about; Free the bytes
	// available on the first target's filesystem.
	Need, Free int64
	// Earlier are the directories that earlier restores and rollbacks
	// of these targets moved aside.
	Earlier []AsideDir
}

// StepPreview is one step of a [Preview].
type StepPreview struct {
	Kind   string
	Source string
	Taken  time.Time
	Size   int64
	Target string
	// MovedAside is where the live target goes; "" when there is none
	// (the restore creates the target).
	MovedAside string
}

// Preview describes what Run would do now. When it fails, the steps are
// still described.
func (p *System) Preview() (Preview, error) {
	var pv Preview
	var bases []string
	for _, st := range p.Steps {
		sp := StepPreview{Kind: st.Kind, Source: st.Source.Name(), Taken: st.Taken, Size: st.Size, Target: st.Target}
		if _, err := os.Lstat(st.Target); err == nil {
			sp.MovedAside = BrokenPath(st.aside(), p.stamp())
		}
		pv.Steps = append(pv.Steps, sp)
		pv.Need += st.Size
		bases = append(bases, st.aside(), st.Target)
	}
	if len(p.Steps) == 0 {
		return pv, nil
	}
	var err error
	if pv.Free, err = freeSpace(p.Steps[0].Target); err != nil {
		return pv, err
	}
	pv.Earlier, err = Asides(slices.Compact(bases)...)
	return pv, err
}

// SpaceError reports too little free space for a restore.
type SpaceError struct {
	Need, Free int64
}

func (e *SpaceError) Error() string {
	return fmt.Sprintf("not enough free space: the restore needs about %s, %s is available", bytesString(e.Need), bytesString(e.Free))
}

// bytesString writes n bytes as people read them: 1.5 MiB.
func bytesString(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

// Fits returns a *SpaceError when the restore needs more space than is
// free.
func (pv Preview) Fits() error {
	if pv.Need > pv.Free {
		return &SpaceError{Need: pv.Need, Free: pv.Free}
	}
	return nil
}

// RollbackResult says what a rollback did.
type RollbackResult struct {
	// Target is the live directory rolled back.
	Target string
	// Back is the moved-aside directory brought back into Target.
	Back string
	// Undone is where the restored tree went.
	Undone string
}

// Rollback swaps the newest directory moved aside by a restore back into
// place: the rootfs's if it was the last one restored (it holds the db as
// it was), else the db's; only restricts it to one kind. It runs between
// the stop and the start commands, and refuses as a restore does (see
// [System.CanAct]).
func (p *System) Rollback(ctx context.Context, live Live, only string) (RollbackResult, error) {
	if err := p.CanAct(); err != nil {
		return RollbackResult{}, err
	}
	kind := KindRootfs
	if only == KindDB || (only == "" && newerBroken(live.Aside(KindDB), live.Rootfs)) {
		kind = KindDB
	}
	target, _ := live.Target(kind)
	aside := live.Aside(kind)
	now := freeStamp([]string{aside}, time.Now())
	res := RollbackResult{Target: target}
	err := p.stopped(ctx, func() error {
		var err error
		res.Back, res.Undone, err = Rollback(target, aside, now)
		return err
	}, nil)
	return res, err
}

// newerBroken reports whether a's newest moved-aside directory is newer
// than b's.
func newerBroken(a, b string) bool {
	na, errA := newest(a)
	nb, errB := newest(b)
	if err := errors.Join(errA, errB); err != nil || na == "" {
		return false
	}
	return nb == "" || na[len(a):] > nb[len(b):]
}
