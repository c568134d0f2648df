package restore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pocketsnap/pocketsnap/extract"
	"github.com/pocketsnap/pocketsnap/hooks"
)

// Step restores one source into one live directory.
type Step struct {
	Kind   string
	Source Source
	// Size is the number of bytes the source unpacks to, about.
	Size int64
	// Taken is when the source was backed up.
	Taken  time.Time
	Target string
	// Aside names where the live target is moved: Aside+".broken-<UTC>".
	// Empty means Target; see [AsideBase].
	Aside string
}

// aside returns the base of the step's moved-aside directories.
func (s Step) aside() string {
	if s.Aside == "" {
		return s.Target
	}
	return s.Aside
}

// System is a whole-system restore: every step is extracted and verified
// into a staging directory while the services still run; only then are the
// services stopped, the live directories moved aside (to
// <target>.broken-<UTC>) and the restored ones moved into place, and the
// services started again. A step whose target lies inside an earlier
// step's target (the db inside the rootfs) is staged inside that step's
// staging directory, so it lands in the restored tree.
type System struct {
	Steps       []Step
	Stop, Start hooks.Command
	Options     extract.Options
	// Now stamps the staging and moved-aside directories.
	Now         time.Time
	HookTimeout time.Duration
	Log         io.Writer
	// AlreadyStopped says that the services are stopped already: with
	// no stop command, Run and Rollback act only when it is set.
	AlreadyStopped bool

	parentMtime map[int]time.Time // by step, for nested targets
}

// stagingFor returns the staging directory of step i: beside its target,
// or inside the staging tree of an earlier step that contains it.
func (p *System) stagingFor(i int) string {
	t := p.Steps[i].Target
	for _, prev := range p.Steps[:i] {
		if rel, ok := inside(prev.Target, t); ok {
			return StagingPath(filepath.Join(StagingPath(prev.Target, p.stamp()), stagingTree, rel), p.stamp())
		}
	}
	return StagingPath(t, p.stamp())
}

func inside(parent, child string) (string, bool) {
	rel, err := filepath.Rel(parent, child)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

func (p *System) stamp() string { return stamp(p.Now) }

// Run carries out the restore. A failure before the swap leaves every live
// directory exactly as it was and removes the staging directories. The
// start command runs whenever the stop command was run, even if the
// restore failed or ctx was cancelled.
func (p *System) Run(ctx context.Context) (err error) {
	if err := p.CanAct(); err != nil {
		return err
	}
	for _, s := range p.Steps {
		if err := CleanStaging(s.Target, p.Log); err != nil {
			return err
		}
	}
	staged, err := p.stageAll(ctx)
	if err != nil {
		return err
	}
	return p.stopped(ctx, func() error {
		for i := range p.Steps {
			if err := p.swap(i, staged[i]); err != nil {
				return errors.Join(err, removeEach(staged[i+1:]))
			}
		}
		return nil
	}, func() error { return removeEach(staged) })
}

// ErrNoStop is the refusal to swap live directories with no stop
// command, unless the services are known to be stopped already.
var ErrNoStop = errors.New("not acting: STACK_STOP_CMD is not set, so nothing would stop the homeserver before its live directories are swapped")

// CanAct returns [ErrNoStop] when nothing would stop the services before
// the live directories are swapped and they are not known to be stopped
// already.
func (p *System) CanAct() error {
	if p.Stop.Set() || p.AlreadyStopped {
		return nil
	}
	return ErrNoStop
}

// stopped runs fn between the stop and the start commands. If the stop
// command fails, fn is not run and undo is, if not nil. The start command
// runs whenever the stop command was run, even if fn failed or ctx was
// cancelled.
func (p *System) stopped(ctx context.Context, fn, undo func() error) (err error) {
	fmt.Fprintf(p.Log, "stopping services: %s\n", orNone(p.Stop))
	defer func() {
		fmt.Fprintf(p.Log, "starting services (always run after a stop): %s\n", orNone(p.Start))
		serr := p.Start.Run(context.WithoutCancel(ctx), p.Log, p.HookTimeout)
		if serr != nil {
			err = errors.Join(err, serr)
		}
	}()
	if err := p.Stop.Run(ctx, p.Log, p.HookTimeout); err != nil {
		err = fmt.Errorf("not restoring: %w", err)
		if undo != nil {
			err = errors.Join(err, undo())
		}
		return err
	}
	return fn()
}

// swap moves step i's live target aside and its staged tree into place,
// then removes the staging directory.
func (p *System) swap(i int, staged *Staging) error {
	s := p.Steps[i]
	// A nested step's staging directory came into place with the tree
	// restored before it.
	dir := staged.Dir()
	if p.nestedInEarlier(i) {
		dir = StagingPath(s.Target, p.stamp())
	}
	broken := BrokenPath(s.aside(), p.stamp())
	if err := Swap(filepath.Join(dir, stagingTree), s.Target, broken); err != nil {
		err = fmt.Errorf("%s: %w", s.Kind, err)
		if i > 0 {
			err = fmt.Errorf("%w (the steps before it were done; 'pocketsnap restore --rollback' undoes them)", err)
		}
		return errors.Join(err, staged.Done(dir))
	}
	if err := staged.Done(dir); err != nil {
		return fmt.Errorf("%s: %w", s.Kind, err)
	}
	// A nested target's parent belongs to the tree restored just before:
	// what was moved aside there is that snapshot's copy, not live data
	// (the live one is inside the outer moved-aside tree), and staging
	// and swapping must not change the parent's mtime.
	if mt, ok := p.parentMtime[i]; ok {
		if err := removeAll(broken); err != nil {
			return fmt.Errorf("%s: %w", s.Kind, err)
		}
		if err := os.Chtimes(filepath.Dir(s.Target), time.Time{}, mt); err != nil {
			return fmt.Errorf("%s: %w", s.Kind, err)
		}
	}
	if _, err := os.Lstat(broken); err == nil && !p.nestedInEarlier(i) {
		fmt.Fprintf(p.Log, "%s: live %s moved aside to %s\n", s.Kind, s.Target, broken)
	}
	fmt.Fprintf(p.Log, "%s: %s restored into %s\n", s.Kind, s.Source.Name(), s.Target)
	return nil
}

func (p *System) nestedInEarlier(i int) bool {
	for _, prev := range p.Steps[:i] {
		if _, ok := inside(prev.Target, p.Steps[i].Target); ok {
			return true
		}
	}
	return false
}

// stageAll stages every step, all or nothing, and returns their staging
// directories.
func (p *System) stageAll(ctx context.Context) ([]*Staging, error) {
	var staged []*Staging
	undo := func(err error) ([]*Staging, error) { return nil, errors.Join(err, removeEach(staged)) }
	p.parentMtime = map[int]time.Time{}
	for i, s := range p.Steps {
		dir := p.stagingFor(i)
		if fi, err := os.Lstat(filepath.Dir(dir)); err == nil && p.nestedInEarlier(i) {
			p.parentMtime[i] = fi.ModTime()
		}
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return undo(fmt.Errorf("%s: %w", s.Kind, err))
		}
		fmt.Fprintf(p.Log, "%s: extracting and verifying %s into %s\n", s.Kind, s.Source.Name(), dir)
		st, _, err := Stage(ctx, s.Source, dir, p.Options)
		if err != nil {
			return undo(fmt.Errorf("%s: restore of %s failed, the live system is unchanged: %w", s.Kind, s.Source.Name(), err))
		}
		staged = append(staged, st)
	}
	return staged, nil
}

// freeStamp returns the first second from now on whose moved-aside and
// staging names are free for every target, so that two restores within
// one second never collide.
func freeStamp(targets []string, now time.Time) time.Time {
	t := now.UTC().Truncate(time.Second)
	for {
		free := true
		for _, target := range targets {
			for _, p := range []string{BrokenPath(target, stamp(t)), StagingPath(target, stamp(t)), UndonePath(target, stamp(t))} {
				if _, err := os.Lstat(p); err == nil {
					free = false
				}
			}
		}
		if free {
			return t
		}
		t = t.Add(time.Second)
	}
}

// removeEach removes staging directories, the last first, so that one
// nested in an earlier one goes before it.
func removeEach(staged []*Staging) error {
	var err error
	for _, s := range slices.Backward(staged) {
		err = errors.Join(err, s.Remove())
	}
	return err
}

func orNone(c hooks.Command) string {
	if !c.Set() {
		return "(none configured)"
	}
	return c.String()
}

// freeSpace returns the bytes available to unprivileged users on the
// filesystem holding path's parent directory.
func freeSpace(path string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, fmt.Errorf("failed to read free space of %s: %w", filepath.Dir(path), err)
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
