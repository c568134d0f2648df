package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"filippo.io/age"

	"github.com/pocketsnap/pocketsnap/chunkstore"
	"github.com/pocketsnap/pocketsnap/internal/keyfile"
	"github.com/pocketsnap/pocketsnap/job"
)

// recipientKeys are the keys that configure age recipients.
var recipientKeys = []string{"BACKUP_AGE_RECIPIENT", "BACKUP_AGE_RECIPIENTS_FILE"}

// recipients returns the age recipients configured by BACKUP_AGE_RECIPIENT
// (recipients separated by commas or spaces, or the path of a recipients
// file) and BACKUP_AGE_RECIPIENTS_FILE.
func (e *env) recipients() ([]string, error) {
	var text []string
	for _, k := range recipientKeys {
		t, err := e.recipientText(k)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", k, e.cfg.Source(k), err)
		}
		text = append(text, t)
	}
	_, strs, err := chunkstore.ParseRecipients(strings.Join(text, "\n"))
	if err != nil {
		return nil, fmt.Errorf("BACKUP_AGE_RECIPIENT: %w", err)
	}
	return strs, nil
}

// recipientText returns the recipients text one of recipientKeys gives:
// BACKUP_AGE_RECIPIENT's value, unless it names a file, or the file's
// contents. Errors do not name the key.
func (e *env) recipientText(key string) (string, error) {
	v := e.cfg.Value(key)
	if v == "" || key == "BACKUP_AGE_RECIPIENT" && strings.HasPrefix(v, "age1") {
		return v, nil
	}
	b, err := os.ReadFile(v)
	if err != nil && key == "BACKUP_AGE_RECIPIENT" {
		return "", fmt.Errorf("not an age recipient and not a readable file: %w", err)
	}
	return string(b), err
}

// openStore opens the configured repository, with the packs it writes
// padded as PACK_PADDING says; with create, a missing one is initialised
// from the configured recipients.
func (e *env) openStore(create bool) (*chunkstore.Store, error) {
	padding, err := chunkstore.ParsePadding(e.cfg.Value("PACK_PADDING"))
	if err != nil {
		return nil, fmt.Errorf("PACK_PADDING (%s): %w", e.cfg.Source("PACK_PADDING"), err)
	}
	dir := e.cfg.Value("BACKUP_REPO")
	s, err := chunkstore.Open(dir)
	if errors.Is(err, chunkstore.ErrNotExist) && create {
		if s, err = e.initStore(dir); err == nil {
			err = e.printFingerprint(s)
		}
	} else if err == nil && create {
		// Issue 18.13: a backup never adds plaintext to a repository
		// when the configuration asks for encryption.
		if err = e.requireEncrypted(s); err == nil {
			err = e.checkRecipients(s)
		}
	} else if err == nil {
		err = e.checkRecipients(s)
	}
	if err != nil {
		if s != nil {
			s.Close()
		}
		return nil, err
	}
	s.SetPadding(padding)
	s.SetWarn(func(msg string) { e.say(job.Warning, "%s", msg) })
	return s, nil
}

func (e *env) initStore(dir string) (*chunkstore.Store, error) {
	recs, err := e.recipients()
	if err != nil {
		return nil, err
	}
	s, err := chunkstore.Init(dir, recs)
	if err != nil {
		return nil, fmt.Errorf("failed to create repository in %s: %w", dir, err)
	}
	if len(recs) > 0 {
		e.say(job.Info, "created repository %s, encrypted to %d age recipient(s)", dir, len(recs))
	} else {
		e.say(job.Info, "created repository %s", dir)
	}
	if fs := keyfile.NoModesFS(dir); fs != "" {
		e.say(job.Warning, "repository %s is on a %s filesystem, which keeps no permission bits: its local/keys (the repository's secrets) cannot be made private (mode 0600) and any app that may read this storage can read it", dir, fs)
		e.say(job.Hint, "to keep them private, set BACKUP_REPO to a directory on internal storage (e.g. in Termux's $HOME) and keep only classic archives (BACKUP_DIR) on the SD card")
	}
	return s, e.checkRecipients(s)
}

// checkRecipients refuses configured recipients that do not parse, even
// though an existing repository encrypts to its own (issue 17.6: a typo
// must not pass unseen), and warns, once per command, about an
// unencrypted repository or recipients that differ from the configured
// ones.
func (e *env) checkRecipients(s *chunkstore.Store) error {
	conf, err := e.recipients()
	if err != nil {
		return &hintError{err: err, hint: fmt.Sprintf("correct the key where it is set, or unset it: the repository encrypts to the recipients in %s/config", s.Dir())}
	}
	repo := s.Config().Recipients
	if len(repo) == 0 {
		e.say(job.Warning, "repository %s is not encrypted (it was created without BACKUP_AGE_RECIPIENT)", s.Dir())
		return nil
	}
	for _, r := range conf {
		if !slices.Contains(repo, r) {
			e.say(job.Warning, "BACKUP_AGE_RECIPIENT %s is not among the repository's recipients; data is encrypted to the repository's (see %s/config)", r, s.Dir())
			return nil
		}
	}
	return nil
}

// loadIdentity reads BACKUP_AGE_IDENTITY (a file path) into the store, for
// commands that read data back, and checks that it opens the repository.
func (e *env) loadIdentity(s *chunkstore.Store) error {
	if !s.Codec().Encrypted() {
		return nil
	}
	ids, err := e.identities()
	if err != nil {
		return err
	}
	s.SetIdentities(ids)
	return s.CheckIdentity()
}

// identities parses the identity file named by BACKUP_AGE_IDENTITY (see
// keyfile.Identities).
func (e *env) identities() ([]age.Identity, error) {
	path := e.cfg.Value("BACKUP_AGE_IDENTITY")
	if path == "" {
		return nil, chunkstore.ErrNoIdentity
	}
	ids, err := keyfile.Identities("BACKUP_AGE_IDENTITY", path)
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("BACKUP_AGE_IDENTITY (%s): %w", e.cfg.Source("BACKUP_AGE_IDENTITY"), err)
	}
	return ids, err
}

// lock takes the repository lock, exclusive for writers and shared for
// readers, waiting up to --lock-wait for a process that holds it and
// saying once whom it waits for.
//
// A reader that cannot create the lock file on a read-only or not
// writable repository says so and goes on without the lock.
func (e *env) lock(ctx context.Context, s *chunkstore.Store, exclusive bool) (*chunkstore.Lock, error) {
	l, err := s.LockWait(ctx, exclusive, e.g.lockWait, func(le *chunkstore.LockedError) {
		e.say(job.Info, "waiting up to %s: %v", e.g.lockWait, le)
	})
	var ue *chunkstore.UnlockedError
	if !exclusive && errors.As(err, &ue) {
		e.say(job.Warning, "%v", ue)
		return nil, nil
	}
	return l, err
}

// openLocked opens the configured repository and takes its lock
// (exclusive or shared); release unlocks and closes it. A reader with
// --from=remote gets the repository in the bucket instead.
func (e *env) openLocked(ctx context.Context, exclusive bool) (s *chunkstore.Store, release func(), err error) {
	if e.fromRemote && !exclusive {
		return e.openRemote(ctx)
	}
	if s, err = e.openStore(false); err != nil {
		return nil, nil, err
	}
	lock, err := e.lock(ctx, s, exclusive)
	if err != nil {
		s.Close()
		return nil, nil, err
	}
	return s, func() { lock.Unlock(); s.Close() }, nil
}
