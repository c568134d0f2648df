package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
)

// Settings is the daemon's configuration as its front end reads it, at
// start and at every reload.
type Settings struct {
	// Off, when not empty, says why the daemon is off: it then runs
	// nothing, holds no lock, and waits for a reload.
	Off string
	// Repository names the repository served. A reload that changes it
	// while the daemon is on is refused: the daemon holds its lock.
	Repository string
	// Store is the repository's record and locks (on only).
	Store *Store
	// Config is the engine's configuration (on only).
	Config Config
}

// Service runs the engine as its Settings say, and follows them as they
// are read again: a new Config replaces the running one, a daemon turned
// off stops its schedule and releases the repository, one turned on
// starts it.
type Service struct {
	// Load reads the settings.
	Load func() (Settings, error)
	// Started, when set, is called each time the engine starts, once it
	// holds the daemon's lock and before its first pass.
	Started func(Settings)
	// Clock is the engine's clock: RealClock but in tests.
	Clock Clock
	// Log takes the service's and the engine's records.
	Log *slog.Logger
}

// Serve runs the service until ctx is done, then returns nil. It reads
// the settings at once (an error is returned) and again at every value
// received on reload, such as SIGHUP (an error is logged and the settings
// in force kept). The engine's passes wait for any pass run by hand
// (run-due) however long it takes.
func (s *Service) Serve(ctx context.Context, reload <-chan os.Signal) error {
	set, err := s.Load()
	for err == nil {
		var more bool
		if set.Off == "" {
			set, more, err = s.run(ctx, set, reload)
		} else {
			// Issue 18.14: a disabled daemon stays up, so that a
			// supervisor does not restart it forever.
			s.Log.Info("the daemon is off: waiting for SIGHUP (re-read the settings) or SIGTERM", "why", set.Off)
			set, more = s.wait(ctx, reload)
		}
		if !more {
			return err
		}
	}
	return err
}

// wait waits for a reload that reads settings without error, and returns
// them; false when ctx is done first.
func (s *Service) wait(ctx context.Context, reload <-chan os.Signal) (Settings, bool) {
	for {
		select {
		case <-ctx.Done():
			return Settings{}, false
		case <-reload:
		}
		set, err := s.Load()
		if err != nil {
			s.Log.Error("configuration not reloaded", "error", err)
			continue
		}
		return set, true
	}
}

// run runs the engine until ctx is done (false) or a reload turns the
// daemon off (true, and the new settings).
func (s *Service) run(ctx context.Context, set Settings, reload <-chan os.Signal) (Settings, bool, error) {
	release, err := set.Store.LockDaemon()
	if err != nil {
		return set, false, err
	}
	defer release()
	if s.Started != nil {
		s.Started(set)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	configs := make(chan Config)
	off := make(chan Settings, 1)
	go s.follow(ctx, set, reload, configs, off)
	eng := New(set.Config, s.Clock, set.Store, s.Log)
	eng.PassWait = math.MaxInt64
	runErr := make(chan error, 1)
	go func() { runErr <- eng.Run(ctx, configs) }()
	select {
	case err := <-runErr:
		return set, false, err
	case next := <-off:
		cancel()
		return next, true, <-runErr
	}
}

// follow reads the settings again at every reload and hands the new
// Config to the engine, until ctx is done. Settings that do not load, or
// name another repository, are logged and the old ones kept; settings
// that turn the daemon off are sent to off, and follow returns.
func (s *Service) follow(ctx context.Context, cur Settings, reload <-chan os.Signal, configs chan<- Config, off chan<- Settings) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
		}
		next, err := s.Load()
		if err == nil && next.Repository != cur.Repository {
			err = fmt.Errorf("the repository changed from %s to %s: restart the daemon to move it", cur.Repository, next.Repository)
		}
		if err != nil {
			s.Log.Error("configuration not reloaded", "error", err)
			continue
		}
		if next.Off != "" {
			s.Log.Info("the daemon is now off: stopping the schedule", "why", next.Off)
			off <- next
			return
		}
		select {
		case configs <- next.Config:
		case <-ctx.Done():
			return
		}
	}
}
